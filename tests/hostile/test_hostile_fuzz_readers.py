"""#24.5, #24.6: every reader of run files, fuzzed (Hypothesis: random JSON values, types, depths, file kinds):
only ``GanvizError``s escape, nothing hangs, nothing outside the run folder is read."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganviz.errors import GanvizError
from ganviz.train.outputs.report import write_report
from ganviz.train.run.folder import RunFolder, read_grid, rewind_run, truncate_jsonl

SECRET = "SECRET-OUTSIDE-THE-RUN"
FILES = ["config.json", "metrics.jsonl", "events.jsonl", "notes.json", "diagrams/trace.json", "diagrams/system.json",
         "diagrams/errors.json", "progress.gif", "curves.png", "samples/step_000001.png", "diagrams/system.svg"]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "step",
                    "g_loss",
                    "d_loss",
                    "kind",
                    "message",
                    "level",
                    "updates",
                    "optimizers",
                    "name",
                    "learning_rate",
                    "running_means",
                    "health_notes",
                    "sampling",
                    "how",
                    "error",
                    "system",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),  # fmt: skip
    max_leaves=20,
)


def _text(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


kinds = st.one_of(
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("lines"), st.lists(json_values, max_size=5)),
    st.tuples(st.just("deep"), st.integers(min_value=1, max_value=30_000)),
    st.tuples(st.just("bytes"), st.binary(max_size=200)),
    st.tuples(st.sampled_from(["fifo", "link_out", "link_zero", "folder", "broken_link", "missing"]), st.none()),
)


def _make(root: Path, name: str, kind: tuple[str, Any]) -> None:
    path = root / name
    what, value = kind
    if what == "json":
        path.write_text(_text(value), encoding="utf-8")
    elif what == "lines":
        path.write_text("".join(_text(v) + "\n" for v in value), encoding="utf-8")
    elif what == "deep":
        path.write_text('{"step": 1, "g": ' + "[" * value + "]" * value + "}\n", encoding="utf-8")
    elif what == "bytes":
        path.write_bytes(value)
    elif what == "fifo":
        os.mkfifo(path)
    elif what == "link_out":
        path.symlink_to(root.parent / "secret.txt")
    elif what == "link_zero":
        path.symlink_to("/dev/zero")
    elif what == "folder":
        path.mkdir()
    elif what == "broken_link":
        path.symlink_to(root / "nowhere")


def _only_ganviz_errors(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except GanvizError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.fixed_dictionaries({name: kinds for name in FILES}), st.integers(min_value=0, max_value=3))
def test_every_run_file_reader_lets_only_ganviz_errors_escape(files: dict[str, tuple[str, Any]], step: int) -> None:
    base = Path(tempfile.mkdtemp())
    try:
        (base / "secret.txt").write_text(SECRET, encoding="utf-8")
        root = base / "run"
        (root / "samples").mkdir(parents=True)
        (root / "diagrams").mkdir()
        for name, kind in files.items():
            _make(root, name, kind)
        run = RunFolder(root)
        _only_ganviz_errors(run.read_config)
        _only_ganviz_errors(run.read_metrics)
        _only_ganviz_errors(run.read_events)
        _only_ganviz_errors(lambda: list(run.iter_metrics()))
        for name in FILES:
            _only_ganviz_errors(run.read_json, root / name)
        _only_ganviz_errors(read_grid, root, root / "samples" / "step_000001.png")
        out = base / "report.html"
        _only_ganviz_errors(write_report, root, out=out)
        if out.exists():
            assert SECRET not in out.read_text(encoding="utf-8")
        if files["metrics.jsonl"][0] not in ("fifo", "folder"):
            _only_ganviz_errors(truncate_jsonl, run.metrics, step)
        _only_ganviz_errors(rewind_run, root, step)
        assert (base / "secret.txt").read_text(encoding="utf-8") == SECRET
    finally:
        shutil.rmtree(base, ignore_errors=True)


trace_values = st.recursive(
    st.none() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "format",
                    "models",
                    "calls",
                    "losses",
                    "updates",
                    "optimizers",
                    "sources",
                    "id",
                    "name",
                    "model",
                    "graph",
                    "inputs",
                    "nodes",
                    "edges",
                    "kind",
                    "shape",
                ]
            ),
            inner,
            max_size=5,
        )
    ),  # fmt: skip
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(trace_values)
def test_the_trace_file_reader_lets_only_ganviz_errors_escape(value: Any) -> None:
    from ganviz.cli.gan_command import _read_trace
    from ganviz.ir import Trace

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.json"
        path.write_text(json.dumps(value), encoding="utf-8")
        _only_ganviz_errors(_read_trace, str(path), Trace)

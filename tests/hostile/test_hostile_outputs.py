"""#13.7-9 and #13.11: long names, a full disk, out-of-range numbers, non-UTF-8 metrics, a 10,000-character model name."""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from harness import Result, assert_refused, run_batch, run_cli, snapshot
from model_files import chain_config, write_keras

from ganviz.cli import main
from ganviz.ir.graph import GraphBuilder

LONG = "a" * 300


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return write_keras(tmp_path / "m.keras", chain_config(3))


def test_output_names_over_255_bytes_are_one_line_in_every_subcommand(tmp_path: Path, model: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1}\n', encoding="utf-8")
    jobs = [
        ["plot", str(model), "-o", LONG + ".svg"],
        ["gan", "trace.json", "-o", LONG + ".png"],
        ["train", "-o", LONG],
        ["train", "-o", f"{LONG}/run"],
        ["report", str(run), "-o", LONG + ".html"],
        ["demo", "-o", LONG],
    ]
    before = snapshot(tmp_path)
    for argv, res in zip(jobs, run_batch(jobs, cwd=tmp_path, timeout=120)):
        assert_refused(res, "too long"), argv
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("suffix", [".svg", ".png", ".html"])
def test_disk_full_while_plotting_is_one_line_and_the_old_file_survives(tmp_path: Path, suffix: str) -> None:
    """RLIMIT_FSIZE makes every write past 4 KB fail with EFBIG, as a full disk fails with ENOSPC."""
    model = write_keras(tmp_path / "big.keras", chain_config(400))
    out = tmp_path / f"keep{suffix}"
    out.write_bytes(b"the user's old drawing")
    res = run_cli(["plot", str(model), "-o", str(out), "--show-shapes"], cwd=tmp_path, fsize=4096)
    assert_refused(res, "disk full", "nothing older was lost")
    assert out.read_bytes() == b"the user's old drawing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.keras", "home", out.name]  # no temporary file left


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["plot", "m.keras", "--dpi", "100000"], "between 1 and 2400"),
        (["train", "--seed", "99999999999999999999"], "between 0 and 4294967295"),
        (["train", "--steps", "-5"], "expected a number >= 1, got -5"),
        (["train", "--steps", "0"], "expected a number >= 1, got 0"),
    ],
)
def test_out_of_range_numbers_are_refused_by_the_parser(argv: list[str], words: str, tmp_path: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    assert_refused(Result(rc, "", err.getvalue(), 0.0), words)


def test_report_on_non_utf8_metrics_skips_the_damaged_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_bytes(b'{"step": 1, "g_loss": 0.5}\n{"step": 2, "g_loss": "\xff\xfe"}\n')
    res = run_cli(["report", str(run), "-o", str(tmp_path / "r.html")], cwd=tmp_path)
    assert res.rc == 0 and not res.err_lines, res.err
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8").lower()


def test_report_on_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    assert_refused(run_cli(["report", "/etc/passwd"], cwd=tmp_path), "is a file, not a run folder")


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf", "html"])
def test_a_10000_character_model_name_draws_cut_with_the_full_name_in_the_details(tmp_path: Path, fmt: str) -> None:
    from ganviz.api import plot_model

    name = "G" * 10_000
    b = GraphBuilder(name)
    b.add_edge(b.add_node("x" * 10_000, kind="input", class_name="InputLayer"), b.add_node("d", class_name="Dense"))
    out = tmp_path / f"m.{fmt}"
    plot_model(b.build(), to_file=out, show_layer_names=True)
    data = out.read_bytes()
    if fmt == "svg":
        text = data.decode("utf-8")
        ET.fromstring(text)
        assert "G" * 119 + "…" in text and "G" * 121 not in text
    elif fmt == "png":
        assert data.startswith(b"\x89PNG")
    elif fmt == "pdf":
        assert data.startswith(b"%PDF-")
    else:
        text = data.decode("utf-8")
        assert name in text  # the page's data keeps the full name for its details panel
        assert "…" in text  # while the drawing inside is cut


def test_backend_hint_does_not_suggest_installing_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganviz.errors import RenderBackendError
    from ganviz.render import backend

    monkeypatch.setattr(backend, "engine_path", lambda e: Path("/bin/false") if e == "graphviz-pure" else None)
    monkeypatch.setattr(backend, "_render_with", lambda *a: (_ for _ in ()).throw(RuntimeError("not a complete SVG")))
    with pytest.raises(RenderBackendError) as info:
        backend.render_dot("digraph { a }", "svg")
    message = str(info.value)
    assert "graphviz-pure failed (not a complete SVG)" in message
    assert "pip install graphviz-pure" not in message and "Graphviz's own `dot`" in message


def test_metrics_json_is_strict_json(tmp_path: Path) -> None:
    from ganviz.train.run.folder import append_jsonl

    append_jsonl(tmp_path / "m.jsonl", {"step": 3, "g_loss": float("nan"), "d_loss": float("inf")})
    line = (tmp_path / "m.jsonl").read_text(encoding="utf-8")
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON")) == {
        "step": 3,
        "g_loss": None,
        "d_loss": None,
    }

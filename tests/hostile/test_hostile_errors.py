"""#24.6: damaged trace files are one line; every error ``train/`` raises on purpose is a ``GanvizError``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from harness import SRC, assert_refused, run_batch, run_cli

from ganviz import errors

DEEP = '{"calls": ' + "[" * 100_000 + "]" * 100_000 + "}"
TRACES = {
    "list.json": "[1, 2, 3]",
    "calls_strings.json": json.dumps({"format": "ganviz.trace/2", "models": [], "calls": ["a", "b"]}),
    "models_ints.json": json.dumps({"models": [1], "calls": {}}),
    "deep.json": DEEP,
    "number.json": "1e999",
    "not_utf8.json": b"\xff\xfe{",
}


def test_damaged_trace_files_are_one_line_each(tmp_path: Path) -> None:
    jobs = []
    for name, content in TRACES.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        jobs.append(["gan", str(path), "-o", str(tmp_path / f"{name}.svg")])
    for argv, res in zip(jobs, run_batch(jobs, cwd=tmp_path, timeout=120)):
        assert_refused(res, "is not a ganviz trace"), argv
    assert not list(tmp_path.glob("*.svg"))


def test_a_trace_file_that_is_a_pipe_does_not_hang(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "t.json")
    assert_refused(run_cli(["gan", "t.json", "-o", "x.svg"], cwd=tmp_path, timeout=60), "not a regular file")


def test_a_bad_tf_config_is_one_line(tmp_path: Path) -> None:
    import os

    env = dict(os.environ)
    try:
        os.environ["TF_CONFIG"] = "{not json"
        res = run_cli(["train", "--quick", "--steps", "1", "-o", str(tmp_path / "run")], cwd=tmp_path, timeout=300,
                      mem_mb=None)  # fmt: skip
    finally:
        os.environ.clear()
        os.environ.update(env)
    assert_refused(res, "TF_CONFIG is not valid JSON")


_BUILTINS = {"ValueError", "TypeError", "RuntimeError", "KeyError", "OSError", "Exception"}


def _builtin_raises(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in _BUILTINS:
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: raise {exc.id}")
    return found


def test_train_raises_only_ganviz_errors() -> None:
    """Each refusal in train/ is a GanvizError, so the CLI's one-line handler sees it (each also a builtin)."""
    skip = {SRC / "ganviz/train/run/reading.py"}  # parse_json's ValueError is caught by its callers
    found = [f for p in sorted((SRC / "ganviz/train").rglob("*.py")) if p not in skip for f in _builtin_raises(p)]
    assert not found, found


def test_the_raise_check_sees_builtin_raises(tmp_path: Path) -> None:
    fake = SRC / "ganviz" / "train" / "run" / "reading.py"
    assert _builtin_raises(fake)  # not vacuous


@pytest.mark.parametrize("name", [n for n in errors.__all__ if isinstance(getattr(errors, n), type)])
def test_every_ganviz_error_but_the_base_is_also_a_builtin(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.GanvizError)
    if cls is not errors.GanvizError:
        assert any(b.__module__ == "builtins" and b is not Exception for b in cls.__mro__[1:]), cls.__mro__


def test_gan_given_a_model_file_says_what_it_accepts(tmp_path: Path) -> None:
    (tmp_path / "small.keras").write_bytes(b"x")
    jobs = [
        ["gan", "small.keras", "-o", "x.svg"],
        ["gan", "--generator", "small.keras", "--discriminator", "d.py:d", "-o", "x.svg"],
        ["gan", "--generator", "g.py:g", "--discriminator", "small.keras", "-o", "x.svg"],
    ]
    for argv, res in zip(jobs, run_batch(jobs, cwd=tmp_path, timeout=120)):
        line = assert_refused(res, "is a model file", "ganviz plot small.keras", "FILE.py:NAME")
        assert "or a .keras/.h5 file" not in line, argv

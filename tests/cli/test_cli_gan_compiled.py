"""`ganviz gan --compiled` (repeatable), the script's own object as TARGET, one import of a file per run."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from ganviz.cli import main  # noqa: E402
from ganviz.ir import Trace  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from fixtures import classic_zoo

with open({counter!r}, "a") as f:  # one line per execution of this script
    f.write("ran\\n")

_entry = classic_zoo.pix2pix()
g = _entry.models["generator"]
d = _entry.models["discriminator"]
combined = _entry.models["combined"]


class Pix2Pix:
    def __init__(self):
        self.generator, self.discriminator, self.combined = g, d, combined
        self.optimizers = {{"d": d.optimizer, "g": combined.optimizer}}


gan = Pix2Pix()
"""


@pytest.fixture()
def script(tmp_path: Path) -> tuple[Path, Path]:
    counter = tmp_path / "runs.txt"
    path = tmp_path / "p2p.py"
    path.write_text(SCRIPT.format(tests=str(TESTS), counter=str(counter)), encoding="utf-8")
    return path, counter


def test_a_file_named_by_several_targets_is_imported_once(script: tuple[Path, Path], tmp_path: Path) -> None:
    path, counter = script
    out = tmp_path / "t.json"
    argv = ["gan", "--generator", f"{path}:g", "--discriminator", f"{path}:d", "--combined", f"{path}:combined"]
    assert main([*argv, "-o", str(out)]) == 0
    assert counter.read_text(encoding="utf-8").splitlines() == ["ran"]
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert {m.name for m in trace.models} == {"generator", "discriminator", "combined"}
    assert main([*argv, "-o", str(out)]) == 0  # a new invocation runs the script anew
    assert counter.read_text(encoding="utf-8").splitlines() == ["ran", "ran"]


def test_compiled_flags_draw_each_update_as_compiled(
    script: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, counter = script
    out = tmp_path / "t.json"
    assert main(["gan", "--compiled", f"{path}:d", "--compiled", f"{path}:combined", "-o", str(out)]) == 0
    assert counter.read_text(encoding="utf-8").splitlines() == ["ran"]
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert [c.model for c in trace.compiled] == ["discriminator", "combined"]  # by their Keras names
    combined = trace.compiled[1]
    assert [(o.loss, o.weight) for o in combined.outputs] == [("mse", 1.0), ("mae", 100.0)]
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[0].startswith("ganviz: warning: discriminator.train_on_batch would train nothing")


def test_the_scripts_own_object(script: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = script
    out = tmp_path / "t.json"
    assert main(["gan", f"{path}:gan", "-o", str(out)]) == 0
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert [(c.model, c.trains) for c in trace.compiled] == [("discriminator", ()), ("combined", ("generator",))]


def test_compiled_errors_name_the_flag(
    script: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = script
    assert main(["gan", "--compiled", f"{path}:g", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("ganviz: error: --compiled 'g' is not compiled; fix: call g.compile(")
    assert main(["gan", f"{path}:gan", "--compiled", f"{path}:d", "-o", str(tmp_path / "x.png")]) == 2
    assert "either TARGET or --compiled" in capsys.readouterr().err

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
{loop}"""

# pix2pix's loop in the Keras 2 habit: D frozen while building combined, its flag never set back
KERAS2_LOOP = """

def train(imgs_A, imgs_B, valid, fake, epochs):
    for epoch in range(epochs):
        fake_A = g.predict(imgs_B, verbose=0)
        d.train_on_batch([imgs_A, imgs_B], valid)
        d.train_on_batch([fake_A, imgs_B], fake)
        combined.train_on_batch([imgs_A, imgs_B], [valid, imgs_A])
"""
WORKING_LOOP = KERAS2_LOOP.replace(
    "        d.train_on_batch([imgs_A", "        d.trainable = True\n        d.train_on_batch([imgs_A", 1
)
WORKING_LOOP = WORKING_LOOP.replace("        combined.", "        d.trainable = False\n        combined.")


@pytest.fixture()
def script(tmp_path: Path) -> tuple[Path, Path]:
    counter = tmp_path / "runs.txt"
    path = tmp_path / "p2p.py"
    path.write_text(SCRIPT.format(tests=str(TESTS), counter=str(counter), loop=""), encoding="utf-8")
    return path, counter


def test_a_file_named_by_several_targets_is_imported_once(script: tuple[Path, Path], tmp_path: Path) -> None:
    path, counter = script
    out = tmp_path / "t.json"
    argv = ["gan", "--generator", f"{path}:g", "--discriminator", f"{path}:d", "--combined", f"{path}:combined"]
    assert main([*argv, "-o", str(out)]) == 0
    assert counter.read_text(encoding="utf-8").splitlines() == ["ran"]
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert {m.name for m in trace.models} == {"generator", "discriminator"}  # combined drawn as its two parts
    assert trace.updates_by_model()["generator"] == ["combined_optimizer"]
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
    # the file holds no loop (it is elsewhere): D is drawn as a working loop trains it, said as a note
    assert capsys.readouterr().err.strip() == ""
    assert trace.compiled[0].trains == ("discriminator",) and trace.compiled[0].note


@pytest.mark.parametrize(("loop", "warned"), [(KERAS2_LOOP, True), (WORKING_LOOP, False)])
def test_compiled_flags_read_the_files_loop_for_the_trainable_trap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loop: str, warned: bool
) -> None:
    path = tmp_path / "p2p.py"
    path.write_text(SCRIPT.format(tests=str(TESTS), counter=str(tmp_path / "runs.txt"), loop=loop), encoding="utf-8")
    out = tmp_path / "t.json"
    assert main(["gan", "--compiled", f"{path}:d", "--compiled", f"{path}:combined", "-o", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    d = Trace.from_json(out.read_text(encoding="utf-8")).compiled[0]
    if warned:
        assert err == [f"ganviz: warning: {d.warning}"] and d.trains == ()
        assert err[0].startswith("ganviz: warning: discriminator.train_on_batch trains nothing: ")
        assert "p2p.py never sets a trainable flag back" in err[0]
    else:
        assert err == [] and d.trains == ("discriminator",) and d.warning is None


def test_the_scripts_own_object(script: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = script
    out = tmp_path / "t.json"
    assert main(["gan", f"{path}:gan", "-o", str(out)]) == 0
    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert [(c.model, c.trains) for c in trace.compiled] == [
        ("discriminator", ("discriminator",)),
        ("combined", ("generator",)),
    ]


def test_compiled_errors_name_the_flag(
    script: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = script
    assert main(["gan", "--compiled", f"{path}:g", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("ganviz: error: --compiled 'g' is not compiled; fix: call g.compile(")
    assert main(["gan", f"{path}:gan", "--compiled", f"{path}:d", "-o", str(tmp_path / "x.png")]) == 2
    assert "either TARGET or --compiled" in capsys.readouterr().err

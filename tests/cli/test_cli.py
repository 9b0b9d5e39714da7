"""The command line, in-process: every error path gives one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganviz.cli import main

MODEL_SOURCE = """
import keras

def build():
    inp = keras.Input(shape=(8,), name="x")
    h = keras.layers.Dense(4, activation="relu", name="hidden")(inp)
    return keras.Model(inp, keras.layers.Dense(1, name="score")(h), name="tiny")

not_a_model = "hello"

def needs_args(width):
    return width
"""


@pytest.fixture()
def model_py(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(MODEL_SOURCE, encoding="utf-8")
    return path


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, f"expected one line on stderr, got {err!r}"
    assert err[0].startswith("ganviz: error: ")
    return err[0]


@pytest.mark.parametrize("command", ["plot", "gan", "train", "report", "demo"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "usage: ganviz " + command in capsys.readouterr().out


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "give a command: plot, gan" in _err_line(capsys)


def test_plot_unknown_format(model_py: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", f"{model_py}:build", "-o", str(tmp_path / "m.jpg")]) == 2
    assert "unknown format 'jpg'" in _err_line(capsys)


def test_plot_missing_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "m.svg")]) == 2
    assert "not found" in _err_line(capsys)


def test_plot_missing_python_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path / "nope.py") + ":build", "-o", str(tmp_path / "m.svg")]) == 2
    assert "not found" in _err_line(capsys)


def test_plot_target_without_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "somemodule"]) == 2
    assert "names no object" in _err_line(capsys)


def test_plot_unknown_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "no_such_module_xyz:build"]) == 2
    assert "cannot import module 'no_such_module_xyz'" in _err_line(capsys)


def test_plot_missing_attribute(model_py: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", f"{model_py}:nothing_here"]) == 2
    line = _err_line(capsys)
    assert "has no attribute 'nothing_here'" in line and "build" in line


def test_plot_function_needing_arguments(model_py: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", f"{model_py}:needs_args"]) == 2
    assert "needs arguments" in _err_line(capsys)


def test_plot_not_a_model(model_py: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", f"{model_py}:not_a_model", "-o", str(tmp_path / "m.svg")]) == 2
    assert "str" in _err_line(capsys)


def test_plot_unwritable_folder(model_py: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", f"{model_py}:build", "-o", str(tmp_path / "missing" / "m.svg")]) == 2
    assert "does not exist" in _err_line(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plot", "x.keras", "--depth", "-1"], "expected a number >= 0"),
        (["plot", "x.keras", "--depth", "two"], "expected a whole number"),
        (["plot", "x.keras", "--depth", "1", "--expand-nested"], "not allowed with"),
        (["plot", "x.keras", "--rankdir", "XY"], "invalid choice"),
        (["plot", "x.keras", "--input-shape", "a,b"], "expected a shape"),
        (["train", "--steps", "0"], "expected a number >= 1"),
        (["train", "--loss", "nope"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in _err_line(capsys)


def test_report_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not found" in _err_line(capsys)


def test_report_folder_without_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no metrics.jsonl" in _err_line(capsys)


def test_gan_missing_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", str(tmp_path / "t.json")]) == 2
    assert "not found" in _err_line(capsys)


def test_gan_bad_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"format": "something/1"}', encoding="utf-8")
    assert main(["gan", str(bad), "-o", str(tmp_path / "g.svg")]) == 2
    assert "not a ganviz trace" in _err_line(capsys)


def test_plot_writes_svg_from_python_target(model_py: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.svg"
    assert main(["plot", f"{model_py}:build", "-o", str(out), "--show-shapes", "--show-layer-names"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<") and "hidden" in text and "score" in text


def test_existing_output_survives_a_failed_plot(model_py: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.svg"
    out.write_text("precious", encoding="utf-8")
    assert main(["plot", f"{model_py}:not_a_model", "-o", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == "precious"


GAN_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "cli_gan.py"


def test_gan_traces_a_subclassed_gan_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "system.json"
    assert main(["gan", f"{GAN_FILE}:build", "-o", str(out)]) == 0
    from ganviz.ir import Trace

    trace = Trace.from_json(out.read_text(encoding="utf-8"))
    assert trace.updates_by_model() == {"discriminator": ["d_optimizer"], "generator": ["g_optimizer"]}
    svg = tmp_path / "system.svg"
    assert main(["gan", str(out), "-o", str(svg)]) == 0  # a saved trace draws again without TensorFlow work
    assert "d_loss" in svg.read_text(encoding="utf-8")


def test_gan_classic_pair_is_drawn_as_assumed(tmp_path: Path) -> None:
    out = tmp_path / "classic.svg"
    assert main(["gan", f"{GAN_FILE}:classic", "-o", str(out)]) == 0
    assert "Assumed" in out.read_text(encoding="utf-8")


def test_gan_untraceable_step_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", f"{GAN_FILE}:build_bad", "-o", str(tmp_path / "bad.png")]) == 2
    line = _err_line(capsys)
    assert "cli_gan.py:" in line and ".numpy()" in line


def test_plot_of_a_gan_suggests_the_gan_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["plot", f"{GAN_FILE}:build", "-o", str(tmp_path / "g.png")]) == 2
    line = _err_line(capsys)
    assert "ganviz gan" in line and "--input-shape" in line


def test_train_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "taken"
    out.write_text("x", encoding="utf-8")
    assert main(["train", "--steps", "1", "--out", str(out)]) == 2
    assert "cannot create run folder" in _err_line(capsys)


def test_gan_batch_size_defaults_to_8() -> None:
    from ganviz.cli import build_parser

    assert build_parser().parse_args(["gan", "m.py:g"]).batch_size == 8


@pytest.mark.parametrize(
    ("source", "message"),
    [("def broken(:\n", "SyntaxError"), ("import no_such_module_for_ganviz\n", "no_such_module_for_ganviz")],
)
def test_plot_target_file_that_cannot_be_imported(
    source: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(source, encoding="utf-8")
    assert main(["plot", f"{bad}:build", "-o", str(tmp_path / "m.svg")]) == 2
    line = _err_line(capsys)
    assert "cannot import" in line and message in line

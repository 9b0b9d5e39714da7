"""`ganviz gan`: plain step functions, tuple batches, merged calls, the assumed loop, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from ganviz.cli import main  # noqa: E402
from ganviz.ir import Trace  # noqa: E402

STEPS = Path(__file__).resolve().parents[1] / "fixtures" / "cli_steps.py"


def _err_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, f"expected one line on stderr, got {err!r}"
    return err[0]


def test_plain_step_function_with_inferred_data(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    assert main(["gan", f"{STEPS}:train_step", "-o", str(out)]) == 0
    t = Trace.from_json(out.read_text(encoding="utf-8"))
    assert t.updates_by_model() == {"discriminator": ["d_opt"], "generator": ["g_opt"]}
    assert [c.output for c in t.calls][:3] == ["fake", "fake_score", "real_score"]
    assert next(s for s in t.sources if s.kind == "data").shape == (None, 8, 1)


def test_tf_function_step_with_one_data_shape_per_argument(tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    argv = ["gan", f"{STEPS}:labelled_step", "--data-shape", "8,1", "--data-shape", "2", "-o", str(out)]
    assert main(argv) == 0
    t = Trace.from_json(out.read_text(encoding="utf-8"))
    assert [(s.name, s.shape) for s in t.sources if s.kind == "data"] == [("labels", (8, 2))]
    assert t.ops and t.ops[0].kind == "concat"


def test_wrong_number_of_data_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gan", f"{STEPS}:labelled_step", "--data-shape", "8,1", "-o", str(tmp_path / "t.png")]
    assert main(argv) == 2
    line = _err_line(capsys)
    assert "takes 2 argument(s) (images, labels)" in line and "--data-shape" in line


def test_merge_calls(tmp_path: Path) -> None:
    out = tmp_path / "m.svg"
    assert main(["gan", f"{STEPS}:train_step", "--merge-calls", "-o", str(out)]) == 0
    svg = out.read_text(encoding="utf-8")
    assert "fake_score" not in svg and "discriminator" in svg
    out2 = tmp_path / "s.svg"
    assert main(["gan", f"{STEPS}:train_step", "-o", str(out2)]) == 0
    assert "fake_score" in out2.read_text(encoding="utf-8")


def test_generator_and_discriminator_draw_the_assumed_loop(tmp_path: Path) -> None:
    out = tmp_path / "a.svg"
    argv = ["gan", "--generator", f"{STEPS}:build_generator", "--discriminator", f"{STEPS}:build_discriminator"]
    assert main([*argv, "-o", str(out)]) == 0
    assert "Assumed" in out.read_text(encoding="utf-8")


def test_generator_without_discriminator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", "--generator", f"{STEPS}:build_generator"]) == 2
    assert "--discriminator is missing" in _err_line(capsys)


def test_class_that_needs_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gan", f"{STEPS}:NeedsArgs", "-o", str(tmp_path / "x.png")]) == 2
    line = _err_line(capsys)
    assert "constructor needs arguments (generator, discriminator)" in line


def test_uncompiled_gan_says_compile_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.png"
    assert main(["gan", f"{STEPS}:uncompiled", "-o", str(out)]) == 2
    line = _err_line(capsys)
    assert "not compiled" in line and "call compile(...) first" in line and "d_optimizer" in line
    assert not out.exists()


GAN_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "cli_gan.py"


def test_verify_checks_the_picture_against_one_real_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert (
        main(["gan", f"{GAN_FILE}:build", "--verify", "--data-shape", "28,28,1", "--batch-size", "4", "-o", str(out)])
        == 0
    )
    printed = capsys.readouterr()
    assert "checked against one real step" in printed.out and "all hold" in printed.out, printed
    t = Trace.from_json(out.read_text(encoding="utf-8"))
    assert t.verified is not None and t.verified.holds
    assert next(s for s in t.sources if s.kind == "data").shape[0] == 4  # --batch-size reached the trace


def test_verify_a_step_function(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert main(["gan", f"{STEPS}:train_step", "--verify", "--data-shape", "8,1", "-o", str(out)]) == 0
    assert "checked against one real step" in capsys.readouterr().out
    assert Trace.from_json(out.read_text(encoding="utf-8")).verified is not None


def test_verify_needs_something_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    assert main(["gan", f"{STEPS}:train_step", "-o", str(trace)]) == 0
    capsys.readouterr()
    assert main(["gan", str(trace), "--verify", "-o", str(tmp_path / "again.png")]) == 2
    assert "--verify runs one real step" in _err_line(capsys)


def test_the_tracers_hint_names_the_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganviz.cli.gan_command import _cli_hint

    assert "data=<" not in _cli_hint("pass data=<an example batch, a tf.TensorSpec, or a tuple of them>")
    assert "--data-shape" in _cli_hint("pass data=<an example batch>")

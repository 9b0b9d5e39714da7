"""#12.7: a command line that guides: one-line refusals that say what to type, aliases, examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganviz.cli import build_parser, main

GRAPH_SOURCE = """
from ganviz.ir.graph import GraphBuilder
from ganviz.errors import NotAModelError

def build():
    b = GraphBuilder("tiny")
    b.add_edge(b.add_node("x", kind="input", class_name="InputLayer"), b.add_node("hidden_dense", class_name="Dense"))
    return b.build()

def coloured():
    raise NotAModelError("\\x1b[1m\\x1b[31mnot a model\\x1b[0m: try \\x1b[4mthis\\x1b[0m")
"""
COMMANDS = ["plot", "gan", "train", "report", "demo"]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("ganviz: error: ") and "usage:" not in err[0]
    return err[0]


@pytest.fixture()
def graph_py(tmp_path: Path) -> Path:
    path = tmp_path / "graphs.py"
    path.write_text(GRAPH_SOURCE, encoding="utf-8")
    return path


def test_an_output_name_given_without_o_says_to_use_o(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "m.keras", "out.png"]) == 2
    assert "use -o out.png" in _one_line(capsys)


@pytest.mark.parametrize(
    ("typed", "meant"), [("plto", "plot"), ("trian", "train"), ("reprot", "report"), ("gna", "gan")]
)
def test_a_mistyped_command_suggests_the_right_one(typed: str, meant: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([typed, "x"]) == 2
    assert f"did you mean `ganviz {meant}`?" in _one_line(capsys)


def test_an_unknown_command_far_from_any_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zzzzzz"]) == 2
    assert "the commands are plot, gan, train, report, demo" in _one_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["plot"],
        ["plot", "m.keras", "--rankdir", "XY"],
        ["plot", "m.keras", "--depth", "1", "--expand-nested"],
        ["train", "--resume", "--overwrite"],
        ["train", "--nope"],
        ["report"],
        ["--nope"],
    ],
)
def test_argparse_refusals_are_one_line_without_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    line = _one_line(capsys)
    if argv[0] in COMMANDS:
        assert f"see `ganviz {argv[0]} --help`" in line


def test_keras_style_option_names_are_aliases() -> None:
    args = build_parser().parse_args(
        [
            "plot",
            "m.keras",
            "--show_shapes",
            "--show_dtype",
            "--expand_nested",
            "--show_layer_names",
            "--input_shape",
            "4",
        ]
    )
    assert args.show_shapes and args.show_dtype and args.expand_nested and args.show_layer_names
    assert args.input_shape == (4,)
    assert build_parser().parse_args(["train", "--batch_size", "8"]).batch_size == 8
    plot_help = build_parser()._subparsers._group_actions[0].choices["plot"].format_help()  # type: ignore[union-attr]
    assert "--show_shapes is --show-shapes" in plot_help and "--show-shapes, --show_shapes" not in plot_help


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["-o", "--out", "--output"])
def test_o_and_out_mean_the_output_in_every_subcommand(command: str, flag: str) -> None:
    target = {"plot": ["m.keras"], "gan": ["t.json"], "report": ["run"]}.get(command, [])
    assert build_parser().parse_args([command, *target, flag, "X"]).out == "X"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    tail = lines[lines.index("examples:") + 1 :]
    assert 2 <= len(tail) <= 3 and all(line.strip().startswith(f"ganviz {command}") for line in tail), tail


def test_layer_names_follow_the_python_default(graph_py: Path, tmp_path: Path) -> None:
    """plot_model shows classes only unless show_layer_names=True (as Keras); the command line does the same."""
    from ganviz.api import plot_model

    plain, named = tmp_path / "plain.dot", tmp_path / "named.dot"
    assert main(["plot", f"{graph_py}:build", "-o", str(plain)]) == 0
    assert main(["plot", f"{graph_py}:build", "-o", str(named), "--show-layer-names"]) == 0
    assert "hidden_dense" not in plain.read_text(encoding="utf-8")
    assert "hidden_dense" in named.read_text(encoding="utf-8")
    import importlib.util

    spec = importlib.util.spec_from_file_location("graphs_for_test", graph_py)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    plot_model(module.build(), to_file=tmp_path / "py.dot")
    assert (tmp_path / "py.dot").read_text(encoding="utf-8") == plain.read_text(encoding="utf-8")


def test_ansi_colour_codes_are_stripped_from_errors(graph_py: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", f"{graph_py}:coloured", "-o", "x.svg"]) == 2
    line = _one_line(capsys)
    assert "\x1b" not in line and "not a model: try this" in line


def test_package_module_targets_are_found_from_the_current_folder(tmp_path: Path) -> None:
    """The installed `ganviz` script does not put the current folder on sys.path; targets are still found there."""
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "mypkg" / "models.py").write_text(GRAPH_SOURCE, encoding="utf-8")
    launcher = tmp_path / "bin" / "ganviz_script.py"  # like a console script: sys.path[0] is its own folder
    launcher.parent.mkdir()
    launcher.write_text("import sys\nfrom ganviz.cli import main\nsys.exit(main())\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    proc = subprocess.run(
        [sys.executable, str(launcher), "plot", "mypkg.models:build", "-o", "m.dot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "digraph" in (tmp_path / "m.dot").read_text(encoding="utf-8")

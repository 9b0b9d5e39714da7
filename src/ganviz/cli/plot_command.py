"""``ganviz plot TARGET``: one model's architecture (a live model, a factory, a model file)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._io import check_input_file, check_writable
from ..errors import ModelNotBuiltError, NotAModelError
from .args import (
    ALIASES,
    FORMAT_HELP,
    MAX_DPI,
    add_out,
    add_rankdir,
    default_out,
    dpi_value,
    keywords,
    nonneg_int,
    shape_value,
    subcommand,
)

EXAMPLES = """examples:
  ganviz plot model.keras -o model.svg --show-shapes
  ganviz plot examples/seed_gan.py:build_generator -o gen.png --show-layer-names
  ganviz plot mypkg.models:discriminator -o disc.html --expand-nested"""


def run(args: argparse.Namespace) -> int:
    from ..api import format_for, plot_model
    from .targets import is_model_file, load_object

    out = args.out or default_out(args.target, ".png")
    format_for(out)  # fail fast on an unknown extension or unwritable path, before any import or load
    check_writable(out)
    if is_model_file(args.target):
        model: Any = args.target
        check_input_file(args.target, "model file")
    else:
        model = load_object(args.target)
        if isinstance(model, (str, bytes, os.PathLike)):
            raise NotAModelError(
                f"{args.target!r} is a {type(model).__name__}, not a Keras model "
                "(point at a model, or a zero-argument function that returns one)"
            )
    try:
        diagram = _plot(plot_model, model, out, args)
    except ModelNotBuiltError as exc:
        hint = "pass --input-shape, e.g. --input-shape 28,28,1"
        if _has_custom_train_step(model):
            hint = f"it has its own train_step: draw the whole system with `ganviz gan {args.target}`, or {hint}"
        raise ModelNotBuiltError(f"{str(exc).split(';')[0]}; {hint}") from None
    print(f"wrote {diagram.path}")
    return 0


def _has_custom_train_step(model: Any) -> bool:
    step = getattr(type(model), "train_step", None)
    return step is not None and getattr(step, "__module__", "").split(".")[0] not in ("keras", "ganviz")


# The options passed on to plot_model, each under plot_model's own keyword.
PLOT_OPTIONS = ("show_shapes", "show_dtype", "show_layer_names", "rankdir", "expand_nested", "dpi",
                "show_layer_activations", "show_trainable", "depth", "input_shape")  # fmt: skip


def _plot(plot_model: Any, model: Any, out: str, args: argparse.Namespace) -> Any:
    return plot_model(model, to_file=out, **keywords(args, PLOT_OPTIONS))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ganviz plot`` to the subparsers ``sub``."""
    sp = subcommand(
        sub, "plot", "draw a model's architecture", "Draw a Keras model's architecture. " + ALIASES, EXAMPLES
    )
    sp.add_argument("target", metavar="TARGET", help="a .keras/.h5 file, FILE.py:NAME or package.module:NAME")
    add_out(sp, FORMAT_HELP + " (default: NAME.png)")
    grp = sp.add_mutually_exclusive_group()
    grp.add_argument("--expand-nested", action="store_true", help="open every nested model")
    grp.add_argument("--depth", type=nonneg_int, help="open this many levels of nested models")
    sp.add_argument("--show-shapes", action="store_true", help="show input/output shapes")
    sp.add_argument("--show-dtype", action="store_true", help="show dtypes")
    sp.add_argument(
        "--show-layer-names",
        action="store_true",
        help="show layer names as well as classes (off by default, like plot_model in Python and Keras)",
    )
    sp.add_argument("--show-trainable", action="store_true", help="mark trainable/frozen state")
    sp.add_argument(
        "--show-activations",
        "--show-layer-activations",
        dest="show_layer_activations",
        action="store_true",
        help="show layer activations",
    )
    add_rankdir(sp)
    sp.add_argument(
        "--dpi", type=dpi_value, default=200, help=f"resolution of PNG/PDF output (default 200, max {MAX_DPI})"
    )
    sp.add_argument("--input-shape", type=shape_value, help="input shape without batch, e.g. 28,28,1 (unbuilt models)")
    sp.set_defaults(func=run)

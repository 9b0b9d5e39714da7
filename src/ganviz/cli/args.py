"""What every subcommand shares: one-line refusals, the value types of options, ``-o``, the subparser maker."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["UsageError", "Parser", "subcommand", "add_out", "add_rankdir", "keywords", "default_out", "nonneg_int",
           "pos_int", "pos_float", "dpi_value", "seed_value", "shape_value", "MAX_DPI", "MAX_SEED", "ALIASES",
           "FORMAT_HELP"]  # fmt: skip

MAX_DPI = 2400  # the renderers' own limit (render.labels.check_dpi)
MAX_SEED = 2**32 - 1  # NumPy's and Keras's seed range
ALIASES = "Keras-style option names work too: --show_shapes is --show-shapes."
FORMAT_HELP = "output file; its extension picks the format: .png .svg .pdf .dot .json .mmd .html"


class UsageError(Exception):
    """A command line argparse refuses: shown as one line, exit code 2."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose refusals are one line (no usage block), raised for ``main`` to print."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.prog)


def int_at_least(low: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
    return value


def nonneg_int(text: str) -> int:
    return int_at_least(0, text)


def pos_int(text: str) -> int:
    return int_at_least(1, text)


def dpi_value(text: str) -> int:
    value = pos_int(text)
    if value > MAX_DPI:
        raise argparse.ArgumentTypeError(f"expected a dpi between 1 and {MAX_DPI}, got {value}")
    return value


def seed_value(text: str) -> int:
    value = nonneg_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed between 0 and {MAX_SEED} (2**32 - 1), got {value}")
    return value


def pos_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def shape_value(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape such as 28,28,1, got {text!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"expected a shape of positive sizes such as 28,28,1, got {text!r}")
    return dims


def default_out(target: str, suffix: str) -> str:
    stem = Path(target.rpartition(":")[2] if ":" in target else target).stem or "model"
    return f"{stem}{suffix}"


def subcommand(sub: Any, name: str, help_text: str, description: str, epilog: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_out(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``-o/--out`` (and ``--output``) name what a subcommand writes, the same in every subcommand."""
    parser.add_argument("-o", "--out", "--output", dest="out", metavar="OUT", default=None, help=help_text)


def add_rankdir(parser: argparse.ArgumentParser) -> None:
    """``--rankdir``: the layout direction of a drawing, the same in every subcommand that draws."""
    parser.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB", help="layout direction")


def keywords(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The options ``names`` as keyword arguments of the function a subcommand calls: each such option's
    ``dest`` is that function's own keyword (``--lr`` is ``learning_rate``), so nothing is renamed twice."""
    return {name: getattr(args, name) for name in names}

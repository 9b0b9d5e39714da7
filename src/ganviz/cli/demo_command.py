"""``ganviz demo``: the seed's plots, the whole GAN traced and a short monitored training run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .args import add_out, pos_int, subcommand

EXAMPLES = """examples:
  ganviz demo --quick
  ganviz demo -o my_demo"""


def run(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out or "demo_out"), quick=args.quick, steps=args.steps)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ganviz demo`` to the subparsers ``sub``."""
    sd = subcommand(
        sub,
        "demo",
        "plots, the whole-GAN trace and a short training run",
        "Run the demo: plots, trace, short training on the embedded digits, report.",
        EXAMPLES,
    )
    add_out(sd, "output folder (default demo_out)")
    sd.add_argument("--quick", action="store_true", help="a run well under a minute")
    sd.add_argument("--steps", type=pos_int, default=None, help=argparse.SUPPRESS)
    sd.set_defaults(func=run)

"""``ganviz train``: the seed's GAN (or the user's compiled one) trained into a monitored run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..train.recipe.options import DEFAULTS, LOSS_SETTINGS
from .args import add_out, keywords, pos_float, pos_int, seed_value, subcommand

EXAMPLES = """examples:
  ganviz train --quick -o run1
  ganviz train --data mnist:~/mnist --loss wgan-gp --steps 20000 -o run2
  ganviz train --resume -o run2                       (continue where it stopped)"""

# The options passed on to train(), each under train()'s own keyword.
TRAIN_OPTIONS = ("data", "steps", "resume", "overwrite", "loss", "batch_size", "seed", "sample_every",
                 "checkpoint_every", "learning_rate", "quick", "tensorboard")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..train.data import check_spec

    if args.data is not None:
        check_spec(args.data)  # before TensorFlow is imported: a bad --data is refused at once
    from ..train.recipe.command import train

    user_model = None
    if args.model:
        from ..train.recipe.user_model import check_user_model
        from .targets import load_object

        user_model = check_user_model(load_object(args.model), repr(args.model))
    out = args.out or DEFAULTS["out"]
    result = train(out=out, model=user_model, model_target=args.model, **keywords(args, TRAIN_OPTIONS))
    print(f"run folder: {Path(out).resolve()}")
    if result.report is not None:
        print(f"report:     {result.report.resolve()}")
    if result.stopped_on_nonfinite:
        from ..train.run.checkpoint import Checkpointer
        from ..train.run.folder import RunFolder

        kept = [s for s, _ in Checkpointer(RunFolder(Path(out)).checkpoints).paths()]
        last = f"the last good checkpoint, step {kept[-1]}, was kept" if kept else "no checkpoint was written"
        if args.model:
            then = (f"continue with `ganviz train --resume --model {args.model} --out {out}`" if kept
                    else f"start again with `ganviz train --model {args.model} --overwrite --out {out}`")  # fmt: skip
            fix = f"lower your model's learning rates or check its losses, then {then}"
        else:
            fix = f"lower --lr, or try another --loss, and start again with --overwrite --out {out}"
        print(
            f"ganviz: error: training stopped at step {result.steps}: losses or weights became NaN/inf; {last} ({fix})",
            file=sys.stderr,
        )
        return 1
    return 0


def interrupted(args: argparse.Namespace) -> str:
    """What a Ctrl-C left of a ``ganviz train`` run: its last checkpoint and the command that continues it."""
    if getattr(args, "command", None) != "train":
        return ""
    from ..train.run.checkpoint import Checkpointer
    from ..train.run.folder import RunFolder

    out = args.out or DEFAULTS["out"]
    model = f" --model {args.model}" if args.model else ""
    try:
        kept = [s for s, _ in Checkpointer(RunFolder(Path(out)).checkpoints).paths()]
    except OSError:
        kept = []
    if kept:
        return f"; the checkpoint at step {kept[-1]} is kept: continue with `ganviz train --resume{model} --out {out}`"
    return f"; no checkpoint was written yet: start again with `ganviz train{model} --overwrite --out {out}`"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ganviz train`` to the subparsers ``sub``."""
    st = subcommand(
        sub, "train", "train a GAN with monitors", "Train the seed's GAN (or a loss variant) with monitors.", EXAMPLES
    )
    st.add_argument("--data", default=None, help="digits (embedded, default) | mnist:PATH | folder:PATH")
    st.add_argument("--steps", type=pos_int, default=None, help=f"training steps (default {DEFAULTS['steps']})")
    add_out(st, f"run folder (default {DEFAULTS['out']})")
    mode = st.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run folder from its last checkpoint (options left out keep the run's values)",
    )
    mode.add_argument("--overwrite", action="store_true", help="delete the run folder's earlier run and start over")
    st.add_argument("--loss", choices=list(LOSS_SETTINGS), default=None, help=f"GAN loss (default {DEFAULTS['loss']})")
    st.add_argument("--batch-size", type=pos_int, default=None, help=f"batch size (default {DEFAULTS['batch_size']})")
    st.add_argument(
        "--lr",
        dest="learning_rate",
        metavar="LR",
        type=pos_float,
        default=None,
        help=f"Adam learning rate of both models (default {DEFAULTS['learning_rate']:g})",
    )
    st.add_argument("--quick", action="store_true", help="a short smoke run")
    st.add_argument("--seed", type=seed_value, default=None, help=f"random seed (default {DEFAULTS['seed']})")
    st.add_argument("--sample-every", type=pos_int, default=None, help="steps between sample grids")
    st.add_argument("--checkpoint-every", type=pos_int, default=None, help="steps between checkpoints")
    st.add_argument("--model", metavar="FILE.py:NAME", help="train your own compiled GAN (NAME: a model or make_gan())")
    st.add_argument("--tensorboard", action="store_true", help="also write TensorBoard events to OUT/tensorboard")
    st.set_defaults(func=run)

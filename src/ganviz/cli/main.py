"""The ``ganviz`` command line: plot, gan, train, report and demo; ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import check_writable
from ..errors import GanvizError, ModelNotBuiltError, NotAModelError, TargetError

__all__ = ["main", "build_parser"]


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _pos_int(text: str) -> int:
    value = _nonneg_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number >= 1, got 0")
    return value


def _pos_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape such as 28,28,1, got {text!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"expected a shape of positive sizes such as 28,28,1, got {text!r}")
    return dims


def _default_out(target: str, suffix: str) -> str:
    stem = Path(target.rpartition(":")[2] if ":" in target else target).stem or "model"
    return f"{stem}{suffix}"


# -- plot -------------------------------------------------------------------------------------
def _cmd_plot(args: argparse.Namespace) -> int:
    from ..api import format_for, plot_model
    from .targets import is_model_file, load_object

    out = args.output or _default_out(args.target, ".png")
    format_for(out)  # fail fast on an unknown extension or unwritable path, before any import or load
    check_writable(out)
    if is_model_file(args.target):
        model: Any = args.target
        if not Path(args.target).is_file():
            raise TargetError(f"model file {args.target!r} not found (check the path)")
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


def _plot(plot_model: Any, model: Any, out: str, args: argparse.Namespace) -> Any:
    return plot_model(
        model,
        to_file=out,
        show_shapes=args.show_shapes,
        show_dtype=args.show_dtype,
        show_layer_names=True,
        rankdir=args.rankdir,
        expand_nested=args.expand_nested,
        dpi=args.dpi,
        show_layer_activations=args.show_activations,
        show_trainable=args.show_trainable,
        depth=args.depth,
        input_shape=args.input_shape,
    )


# -- gan --------------------------------------------------------------------------------------
def _data_spec(shapes: list[tuple[int, ...]] | None, batch_size: int) -> Any:
    """One ``tf.TensorSpec`` per ``--data-shape`` (a tuple when several), or None."""
    if not shapes:
        return None
    import tensorflow as tf

    specs = tuple(tf.TensorSpec((batch_size, *s), tf.float32) for s in shapes)
    return specs[0] if len(specs) == 1 else specs


def _gan_object(target: str) -> Any:
    """A trace file, a GAN object, a ``{generator, discriminator}`` dict, or a step function."""
    import inspect

    from ..ir import Trace
    from .targets import load_object

    if target.endswith(".json"):
        path = Path(target)
        if not path.is_file():
            raise TargetError(f"trace file {target!r} not found (write one with `ganviz gan TARGET -o t.json`)")
        try:
            return Trace.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError) as exc:
            raise TargetError(f"{target!r} is not a ganviz trace ({exc})") from None
    obj = load_object(target, call=False)
    fn = getattr(obj, "python_function", obj)  # a tf.function's Python function
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        try:
            required = [
                p.name
                for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
        except (TypeError, ValueError):
            required = []
        return ("step", obj, required) if required else obj()
    if inspect.isclass(obj):
        try:
            sig = inspect.signature(obj)
            needed = [
                n
                for n, p in sig.parameters.items()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
        except (TypeError, ValueError):
            needed = []
        if needed:
            raise TargetError(
                f"{target!r} is a class whose constructor needs arguments ({', '.join(needed)}); point at an "
                f"object, or at a zero-argument function that builds and compiles the GAN"
            )
        return obj()
    return obj


def _cmd_gan(args: argparse.Namespace) -> int:
    from ..api import format_for, plot_gan

    pair = args.generator is not None or args.discriminator is not None
    if pair and args.target is not None:
        raise TargetError("give either TARGET or --generator and --discriminator, not both")
    if not pair and args.target is None:
        raise TargetError(
            "give a TARGET (a GAN, a train_step function or a trace .json), or --generator G --discriminator D"
        )
    if pair and (args.generator is None or args.discriminator is None):
        missing = "--discriminator" if args.discriminator is None else "--generator"
        raise TargetError(f"{missing} is missing: the assumed loop needs both --generator and --discriminator")
    out = args.output or _default_out(args.target or args.generator, "_system.png")
    format_for(out)
    check_writable(out)
    calls = "merged" if args.merge_calls else "separate"
    common = dict(to_file=out, expand_nested=args.expand_nested, rankdir=args.rankdir, calls=calls)
    if pair:
        from .targets import load_object

        models = {"generator": load_object(args.generator), "discriminator": load_object(args.discriminator)}
        if args.combined:
            models["combined"] = load_object(args.combined)
        diagram = plot_gan(**models, **common)
        print(f"wrote {diagram.path}")
        return 0
    obj = _gan_object(args.target)
    data = _data_spec(args.data_shape, args.batch_size)
    if isinstance(obj, tuple) and obj[:1] == ("step",):
        from ..extract.step_trace import trace_step

        _, fn, required = obj
        if data is None:
            example: tuple[Any, ...] = ()
        elif isinstance(data, tuple) and len(required) == len(data):
            example = data  # one --data-shape per argument: train_step(images, labels)
        else:
            example = (data,)
        if example and len(example) != len(required):
            raise TargetError(
                f"{args.target!r} takes {len(required)} argument(s) ({', '.join(required)}) but "
                f"{len(example)} example(s) were given: pass one --data-shape per argument"
            )
        obj = trace_step(fn, *example)
    if isinstance(obj, dict) and "generator" in obj and "discriminator" in obj:
        diagram = plot_gan(
            generator=obj["generator"], discriminator=obj["discriminator"], combined=obj.get("combined"), **common
        )
    else:
        diagram = plot_gan(obj, data=data, **common)
    print(f"wrote {diagram.path}")
    return 0


# -- train / report ---------------------------------------------------------------------------
def _cmd_train(args: argparse.Namespace) -> int:
    from ..train.runner import train

    user_model = None
    if args.model:
        from ..train.user_model import check_user_model
        from .targets import load_object

        user_model = check_user_model(load_object(args.model), repr(args.model))
    result = train(
        data=args.data,
        steps=args.steps,
        out=args.out,
        resume=args.resume,
        loss=args.loss,
        batch_size=args.batch_size,
        seed=args.seed,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        learning_rate=args.lr,
        quick=args.quick,
        model=user_model,
        tensorboard=args.tensorboard,
    )
    print(f"run folder: {Path(args.out).resolve()}")
    if result.report is not None:
        print(f"report:     {result.report.resolve()}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise TargetError(f"run folder {args.run_dir!r} not found (give the --out folder of `ganviz train`)")
    from ..train.run_folder import RunFolder

    if not RunFolder(run_dir).is_run():
        raise TargetError(f"{args.run_dir!r} holds no metrics.jsonl: is it a `ganviz train` run folder?")
    from ..train.report import write_report

    path = write_report(run_dir)
    print(f"wrote {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), quick=args.quick, steps=args.steps)
    return 0


# -- parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(
        prog="ganviz",
        description="See your GANs: draw Keras models and whole training steps, train with monitors.",
    )
    p.add_argument("--version", action="version", version=f"ganviz {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    fmt_help = "output file; its extension picks the format: .png .svg .pdf .dot .json .mmd .html"
    sp = sub.add_parser("plot", help="draw a model's architecture", description="Draw a Keras model's architecture.")
    sp.add_argument("target", metavar="TARGET", help="a .keras/.h5 file, FILE.py:NAME or package.module:NAME")
    sp.add_argument("-o", "--output", help=fmt_help + " (default: NAME.png)")
    grp = sp.add_mutually_exclusive_group()
    grp.add_argument("--expand-nested", action="store_true", help="open every nested model")
    grp.add_argument("--depth", type=_nonneg_int, help="open this many levels of nested models")
    sp.add_argument("--show-shapes", action="store_true", help="show input/output shapes")
    sp.add_argument("--show-dtype", action="store_true", help="show dtypes")
    sp.add_argument("--show-trainable", action="store_true", help="mark trainable/frozen state")
    sp.add_argument("--show-activations", action="store_true", help="show layer activations")
    sp.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB", help="layout direction")
    sp.add_argument("--dpi", type=_pos_int, default=200, help="resolution of PNG/PDF output (default 200)")
    sp.add_argument("--input-shape", type=_shape, help="input shape without batch, e.g. 28,28,1 (unbuilt models)")
    sp.set_defaults(func=_cmd_plot)

    sg = sub.add_parser(
        "gan", help="draw a whole GAN training step", description="Trace a GAN's train_step and draw the whole system."
    )
    sg.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help="FILE.py:NAME or package.module:NAME (a GAN model or a train_step function), or a trace .json",
    )
    sg.add_argument("--generator", metavar="T", help="generator FILE.py:NAME: draw the standard loop, no tracing")
    sg.add_argument("--discriminator", metavar="T", help="discriminator FILE.py:NAME (with --generator)")
    sg.add_argument("--combined", metavar="T", help="optional stacked model that trains the generator")
    sg.add_argument("--merge-calls", action="store_true", help="one box per model instead of one per call")
    sg.add_argument("-o", "--output", help=fmt_help + " (default: NAME_system.png)")
    sg.add_argument("--expand-nested", action="store_true", help="draw each model's architecture inside its box")
    sg.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB", help="layout direction")
    sg.add_argument(
        "--data-shape",
        type=_shape,
        action="append",
        help="shape of one real example, e.g. 28,28,1 (if not found); repeat for a tuple batch: "
        "--data-shape 28,28,1 --data-shape 10",
    )
    sg.add_argument("--batch-size", type=_pos_int, default=8, help=argparse.SUPPRESS)
    sg.set_defaults(func=_cmd_gan)

    st = sub.add_parser(
        "train", help="train a GAN with monitors", description="Train the seed's GAN (or a loss variant) with monitors."
    )
    st.add_argument("--data", default="digits", help="digits (embedded, default) | mnist:PATH | folder:PATH")
    st.add_argument("--steps", type=_pos_int, default=None, help="training steps (default 3000)")
    st.add_argument("--out", default="ganviz_run", help="run folder (default ganviz_run)")
    st.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    st.add_argument(
        "--loss", choices=["bce", "lsgan", "hinge", "wgan-gp"], default="bce", help="GAN loss (default bce)"
    )
    st.add_argument("--batch-size", type=_pos_int, default=None, help="batch size (default 128)")
    st.add_argument("--lr", type=_pos_float, default=None, help="Adam learning rate of both models (default 2e-4)")
    st.add_argument("--quick", action="store_true", help="a short smoke run")
    st.add_argument("--seed", type=_nonneg_int, default=0, help="random seed (default 0)")
    st.add_argument("--sample-every", type=_pos_int, default=None, help="steps between sample grids")
    st.add_argument("--checkpoint-every", type=_pos_int, default=None, help="steps between checkpoints")
    st.add_argument("--model", metavar="FILE.py:NAME", help="train your own compiled GAN (NAME: a model or make_gan())")
    st.add_argument("--tensorboard", action="store_true", help="also write TensorBoard events to OUT/tensorboard")
    st.set_defaults(func=_cmd_train)

    sr = sub.add_parser(
        "report", help="write a run's HTML report", description="Write report.html for a training run folder."
    )
    sr.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of `ganviz train`")
    sr.set_defaults(func=_cmd_report)

    sd = sub.add_parser(
        "demo",
        help="plots, the whole-GAN trace and a short training run",
        description="Run the demo: plots, trace, short training on the embedded digits, report.",
    )
    sd.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    sd.add_argument("--quick", action="store_true", help="a run well under a minute")
    sd.add_argument("--steps", type=_pos_int, default=None, help=argparse.SUPPRESS)
    sd.set_defaults(func=_cmd_demo)
    return p


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with one line on stderr)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args) or 0)
    except GanvizError as exc:
        print(f"ganviz: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganviz: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``ganviz`` command line: plot, gan, train, report and demo; ``main(argv) -> exit code``."""

from __future__ import annotations

import argparse
import difflib
import errno
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import check_input_file, check_writable, write_atomic
from ..errors import GanvizError, ModelNotBuiltError, NotAModelError, TargetError, UnknownFormatError

__all__ = ["main", "build_parser"]


MAX_DPI = 2400  # the renderers' own limit (render.labels.check_dpi)
MAX_SEED = 2**32 - 1  # NumPy's and Keras's seed range
COMMANDS = ("plot", "gan", "train", "report", "demo")
_OUTPUT_SUFFIXES = (".png", ".svg", ".pdf", ".dot", ".gv", ".json", ".mmd", ".html", ".htm")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class UsageError(Exception):
    """A command line argparse refuses: shown as one line, exit code 2."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose refusals are one line (no usage block), raised for ``main`` to print."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.prog)


def _int_at_least(low: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
    return value


def _nonneg_int(text: str) -> int:
    return _int_at_least(0, text)


def _pos_int(text: str) -> int:
    return _int_at_least(1, text)


def _dpi(text: str) -> int:
    value = _pos_int(text)
    if value > MAX_DPI:
        raise argparse.ArgumentTypeError(f"expected a dpi between 1 and {MAX_DPI}, got {value}")
    return value


def _seed(text: str) -> int:
    value = _nonneg_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed between 0 and {MAX_SEED} (2**32 - 1), got {value}")
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

    out = args.out or _default_out(args.target, ".png")
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


def _plot(plot_model: Any, model: Any, out: str, args: argparse.Namespace) -> Any:
    return plot_model(
        model,
        to_file=out,
        show_shapes=args.show_shapes,
        show_dtype=args.show_dtype,
        show_layer_names=args.show_layer_names,
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
        path = check_input_file(target, "trace file", hint="write one with `ganviz gan TARGET -o t.json`")
        try:
            return Trace.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
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
    out = args.out or _default_out(args.target or args.generator, "_system.png")
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
    from ..train.data import check_spec

    if args.data is not None:
        check_spec(args.data)  # before TensorFlow is imported: a bad --data is refused at once
    from ..train.recipe.command import train

    user_model = None
    if args.model:
        from ..train.recipe.user_model import check_user_model
        from .targets import load_object

        user_model = check_user_model(load_object(args.model), repr(args.model))
    out = args.out or "ganviz_run"
    result = train(
        data=args.data,
        steps=args.steps,
        out=out,
        resume=args.resume,
        overwrite=args.overwrite,
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
    print(f"run folder: {Path(out).resolve()}")
    if result.report is not None:
        print(f"report:     {result.report.resolve()}")
    if result.stopped_on_nonfinite:
        last = result.last_checkpoint
        kept = f"the last good checkpoint is step {last}" if last else "no checkpoint was written"
        print(
            f"ganviz: error: training stopped at step {result.steps}: losses or weights became NaN/inf; {kept} "
            "(lower --lr, or try another --loss)",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.exists():
        raise TargetError(f"run folder {args.run_dir!r} not found (give the --out folder of `ganviz train`)")
    if not run_dir.is_dir():
        raise TargetError(f"{args.run_dir!r} is a file, not a run folder (give the --out folder of `ganviz train`)")
    from ..train.run.folder import RunFolder

    metrics = RunFolder(run_dir).metrics
    if not metrics.is_file():
        raise TargetError(f"{args.run_dir!r} holds no metrics.jsonl: is it a `ganviz train` run folder?")
    if args.out:
        format_for_report(args.out)
        check_writable(args.out)
    from ..train.outputs.report import write_report

    path = write_report(run_dir)
    if args.out:
        path = Path(args.out)
        write_atomic(path, RunFolder(run_dir).report.read_bytes())
    print(f"wrote {path}")
    return 0


def format_for_report(out: str) -> None:
    """Refuse a report file name that is not ``.html``."""
    if Path(out).suffix.lower() not in (".html", ".htm"):
        raise UnknownFormatError(f"a report is an HTML page: give -o a .html name, got {out!r}")


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out or "demo_out"), quick=args.quick, steps=args.steps)
    return 0


# -- parser -----------------------------------------------------------------------------------
_EXAMPLES = {
    "plot": """examples:
  ganviz plot model.keras -o model.svg --show-shapes
  ganviz plot examples/seed_gan.py:build_generator -o gen.png --show-layer-names
  ganviz plot mypkg.models:discriminator -o disc.html --expand-nested""",
    "gan": """examples:
  ganviz gan examples/seed_gan.py:build_gan -o gan_system.png
  ganviz gan mypkg.train:make_gan -o trace.json      (save the traced step)
  ganviz gan trace.json -o gan_system.svg --expand-nested""",
    "train": """examples:
  ganviz train --quick -o run1
  ganviz train --data mnist:~/mnist --loss wgan-gp --steps 20000 -o run2
  ganviz train --resume -o run2                       (continue where it stopped)""",
    "report": """examples:
  ganviz report run1
  ganviz report run1 -o run1_report.html""",
    "demo": """examples:
  ganviz demo --quick
  ganviz demo -o my_demo""",
}
_ALIASES = "Keras-style option names work too: --show_shapes is --show-shapes."


def _sub(sub: Any, name: str, help_text: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=_EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _add_out(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``-o/--out`` (and ``--output``) name what a subcommand writes, the same in every subcommand."""
    parser.add_argument("-o", "--out", "--output", dest="out", metavar="OUT", default=None, help=help_text)


def _keras_aliases(parser: argparse.ArgumentParser) -> None:
    """Accept ``--show_shapes`` for ``--show-shapes`` (Keras's spelling), without listing both in --help."""
    for action in list(parser._actions):
        for opt in list(action.option_strings):
            if opt.startswith("--") and "-" in opt[2:]:
                parser._option_string_actions.setdefault("--" + opt[2:].replace("-", "_"), action)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _keras_aliases(child)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = _Parser(
        prog="ganviz",
        description="See your GANs: draw Keras models and whole training steps, train with monitors.",
        epilog=_ALIASES,
    )
    p.add_argument("--version", action="version", version=f"ganviz {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    fmt_help = "output file; its extension picks the format: .png .svg .pdf .dot .json .mmd .html"
    sp = _sub(sub, "plot", "draw a model's architecture", "Draw a Keras model's architecture. " + _ALIASES)
    sp.add_argument("target", metavar="TARGET", help="a .keras/.h5 file, FILE.py:NAME or package.module:NAME")
    _add_out(sp, fmt_help + " (default: NAME.png)")
    grp = sp.add_mutually_exclusive_group()
    grp.add_argument("--expand-nested", action="store_true", help="open every nested model")
    grp.add_argument("--depth", type=_nonneg_int, help="open this many levels of nested models")
    sp.add_argument("--show-shapes", action="store_true", help="show input/output shapes")
    sp.add_argument("--show-dtype", action="store_true", help="show dtypes")
    sp.add_argument(
        "--show-layer-names",
        action="store_true",
        help="show layer names as well as classes (off by default, like plot_model in Python and Keras)",
    )
    sp.add_argument("--show-trainable", action="store_true", help="mark trainable/frozen state")
    sp.add_argument(
        "--show-activations", "--show-layer-activations", action="store_true", help="show layer activations"
    )
    sp.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB", help="layout direction")
    sp.add_argument("--dpi", type=_dpi, default=200, help=f"resolution of PNG/PDF output (default 200, max {MAX_DPI})")
    sp.add_argument("--input-shape", type=_shape, help="input shape without batch, e.g. 28,28,1 (unbuilt models)")
    sp.set_defaults(func=_cmd_plot)

    sg = _sub(sub, "gan", "draw a whole GAN training step", "Trace a GAN's train_step and draw the whole system.")
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
    _add_out(sg, fmt_help + " (default: NAME_system.png)")
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

    st = _sub(sub, "train", "train a GAN with monitors", "Train the seed's GAN (or a loss variant) with monitors.")
    st.add_argument("--data", default=None, help="digits (embedded, default) | mnist:PATH | folder:PATH")
    st.add_argument("--steps", type=_pos_int, default=None, help="training steps (default 3000)")
    _add_out(st, "run folder (default ganviz_run)")
    mode = st.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run folder from its last checkpoint (options left out keep the run's values)",
    )
    mode.add_argument("--overwrite", action="store_true", help="delete the run folder's earlier run and start over")
    st.add_argument("--loss", choices=["bce", "lsgan", "hinge", "wgan-gp"], default=None, help="GAN loss (default bce)")
    st.add_argument("--batch-size", type=_pos_int, default=None, help="batch size (default 128)")
    st.add_argument("--lr", type=_pos_float, default=None, help="Adam learning rate of both models (default 2e-4)")
    st.add_argument("--quick", action="store_true", help="a short smoke run")
    st.add_argument("--seed", type=_seed, default=None, help="random seed (default 0)")
    st.add_argument("--sample-every", type=_pos_int, default=None, help="steps between sample grids")
    st.add_argument("--checkpoint-every", type=_pos_int, default=None, help="steps between checkpoints")
    st.add_argument("--model", metavar="FILE.py:NAME", help="train your own compiled GAN (NAME: a model or make_gan())")
    st.add_argument("--tensorboard", action="store_true", help="also write TensorBoard events to OUT/tensorboard")
    st.set_defaults(func=_cmd_train)

    sr = _sub(sub, "report", "write a run's HTML report", "Write report.html for a training run folder.")
    sr.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of `ganviz train`")
    _add_out(sr, "report file (default RUN_DIR/report.html)")
    sr.set_defaults(func=_cmd_report)

    sd = _sub(
        sub,
        "demo",
        "plots, the whole-GAN trace and a short training run",
        "Run the demo: plots, trace, short training on the embedded digits, report.",
    )
    _add_out(sd, "output folder (default demo_out)")
    sd.add_argument("--quick", action="store_true", help="a run well under a minute")
    sd.add_argument("--steps", type=_pos_int, default=None, help=argparse.SUPPRESS)
    sd.set_defaults(func=_cmd_demo)
    _keras_aliases(p)
    return p


def _version() -> str:
    from .. import __version__

    return __version__


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand word of ``argv`` (its first non-option word), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word
        if word in ("-h", "--help", "--version"):
            return None
    return None


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; refusals raise :class:`UsageError` with a message that says what to do."""
    command = _command_of(argv)
    if command is None and not any(a in ("-h", "--help", "--version") for a in argv):
        raise UsageError(f"give a command: {', '.join(COMMANDS)} (see `ganviz --help`)", "ganviz")
    if command is not None and command not in COMMANDS:
        close = difflib.get_close_matches(command, COMMANDS, n=1, cutoff=0.5)
        hint = f"did you mean `ganviz {close[0]}`?" if close else f"the commands are {', '.join(COMMANDS)}"
        raise UsageError(f"unknown command {command!r}: {hint}", "ganviz")
    args, extra = parser.parse_known_args(argv)
    if extra:
        word = extra[0]
        if not word.startswith("-") and Path(word).suffix.lower() in _OUTPUT_SUFFIXES and hasattr(args, "out"):
            raise UsageError(f"unexpected argument {word!r}: to write to it, use -o {word}", f"ganviz {command}")
        raise UsageError(
            f"unrecognized argument{'s' if len(extra) > 1 else ''}: {' '.join(extra)}", f"ganviz {command}"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with one line on stderr)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse(parser, words)
    except UsageError as exc:
        where = "" if exc.prog == "ganviz" else f" (see `{exc.prog} --help`)"
        print(f"ganviz: error: {_one_line(exc)}{where}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help or --version
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args) or 0)
    except GanvizError as exc:
        print(f"ganviz: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        print(f"ganviz: error: {_disk_message(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("ganviz: error: out of memory (try a smaller model, --batch-size or dataset)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganviz: interrupted", file=sys.stderr)
        return 130


_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.ENAMETOOLONG, errno.EROFS)


def _disk_message(exc: OSError) -> str:
    where = f" {exc.filename!r}" if exc.filename else ""
    if exc.errno == errno.ENAMETOOLONG:
        return f"file name too long:{where} (choose a shorter name)"
    if exc.errno == errno.EROFS:
        return f"cannot write{where}: the file system is read-only (choose another place)"
    return f"disk full while writing{where} ({exc.strerror}); nothing older was lost (free some space, then retry)"


def _one_line(exc: BaseException) -> str:
    """The exception's message as one line, without ANSI colour codes (Keras colours some of its errors).

    >>> _one_line(ValueError("\\x1b[1mbad\\x1b[0m\\n  input"))
    'bad input'
    """
    text = _ANSI.sub("", str(exc)).strip() or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

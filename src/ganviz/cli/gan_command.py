"""``ganviz gan``: the whole GAN traced from its step, a trace file, or the assumed loop of two models."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._io import check_input_file, check_writable
from ..errors import TargetError, TraceError
from ..ir import Trace
from .args import FORMAT_HELP, add_out, add_rankdir, default_out, pos_int, shape_value, subcommand

EXAMPLES = """examples:
  ganviz gan examples/seed_gan.py:build_gan -o gan_system.png
  ganviz gan --compiled dcgan.py:discriminator --compiled dcgan.py:combined   (no step: as compiled)
  ganviz gan dcgan.py:gan -o trace.json   (the script's own object; .json saves the trace)"""


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
    from .targets import call_user, load_object

    if target.endswith(".json"):
        return _read_trace(target, Trace)
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
        return ("step", obj, required) if required else call_user(obj, target)
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
        return call_user(obj, target)
    return obj


_MAX_TRACE_BYTES = 256 << 20


def _read_trace(target: str, trace_class: Any) -> Any:
    """A trace file as a ``Trace``: a regular file of bounded size, JSON of bounded depth, of the trace's shape."""
    from ..train.run.reading import parse_json

    path = check_input_file(target, "trace file", hint="write one with `ganviz gan TARGET -o t.json`")
    not_trace = f"{target!r} is not a ganviz trace"
    if path.stat().st_size > _MAX_TRACE_BYTES:
        raise TargetError(
            f"{not_trace} (over {_MAX_TRACE_BYTES >> 20} MB; write one with `ganviz gan TARGET -o t.json`)"
        )
    try:
        value = parse_json(path.read_bytes(), max_depth=200)
    except (OSError, ValueError) as exc:
        raise TargetError(f"{not_trace} ({exc})") from None
    if not isinstance(value, dict):
        raise TargetError(f"{not_trace} (it holds a JSON {type(value).__name__}, a trace is an object)")
    try:
        return trace_class.from_dict(value)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
        raise TargetError(f"{not_trace} ({what}; write one with `ganviz gan TARGET -o t.json`)") from None


def _refuse_model_files(args: argparse.Namespace) -> None:
    """Say what ``gan`` accepts when given a ``.keras``/``.h5`` file (its step cannot be traced from a file)."""
    from .targets import is_model_file

    given = [("TARGET", args.target), ("--generator", args.generator), ("--discriminator", args.discriminator),
             ("--combined", getattr(args, "combined", None))] + [("--compiled", c) for c in args.compiled or ()]  # fmt: skip
    for flag, value in given:
        if value and is_model_file(value):
            raise TargetError(
                f"{flag} {value!r} is a model file: `ganviz gan` draws live models and their training step "
                f"(FILE.py:NAME or package.module:NAME, or a trace .json); draw the file itself with "
                f"`ganviz plot {value}`"
            )


def _run_compiled(args: argparse.Namespace, common: dict[str, Any]) -> int:
    """``--compiled T`` (repeated): the compiled models' updates, no step; --generator etc. name parts."""
    import keras

    from ..api import plot_gan
    from .targets import load_object, split_target

    compiled: dict[str, Any] = {}
    for target in args.compiled:
        obj = load_object(target)
        if not isinstance(obj, keras.Model):
            raise TargetError(f"--compiled {target!r} is a {type(obj).__name__}, not a keras.Model")
        compiled[split_target(target)[1].split(".")[-1]] = obj
    parts = {
        role: load_object(value)
        for role, value in (("generator", args.generator), ("discriminator", args.discriminator))
        if value is not None
    }
    if args.combined:
        raise TargetError("--combined goes with --generator/--discriminator; with --compiled give it as --compiled")
    try:
        diagram = plot_gan(compiled=compiled, **parts, **common, script=_scripts(args.compiled))
    except TraceError as exc:
        raise TraceError(_cli_hint(str(exc))) from None
    print(f"wrote {diagram.path}")
    return 0


def _scripts(targets: list[str]) -> list[str]:
    """The source files of ``targets`` (``f.py:name``; a module's file), read for the loop's trainable flags."""
    from .targets import split_target

    out: list[str] = []
    for target in targets:
        where = split_target(target)[0]
        path = where if where.endswith(".py") else getattr(sys.modules.get(where), "__file__", None)
        if path and path not in out:
            out.append(str(path))
    return out


def run(args: argparse.Namespace) -> int:
    """``ganviz gan``; each Keras 3 trainable trap found is one ``ganviz: warning:`` line on stderr."""
    import warnings

    from ..api import TrainableTrapWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TrainableTrapWarning)
        try:
            return _run(args)
        finally:
            for w in caught:
                if issubclass(w.category, TrainableTrapWarning):
                    print(f"ganviz: warning: {w.message}", file=sys.stderr)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _run(args: argparse.Namespace) -> int:
    from ..api import format_for, plot_gan

    if args.compiled and args.target is not None:
        raise TargetError("give either TARGET or --compiled (repeat it for each compiled model), not both")
    pair = args.generator is not None or args.discriminator is not None
    if args.compiled:
        _refuse_model_files(args)
        out = args.out or default_out(args.compiled[-1], "_system.png")
        format_for(out)
        check_writable(out)
        common = dict(to_file=out, expand_nested=args.expand_nested, rankdir=args.rankdir)
        common["calls"] = "merged" if args.merge_calls else "separate"
        return _run_compiled(args, common)
    if pair and args.target is not None:
        raise TargetError("give either TARGET or --generator and --discriminator, not both")
    if not pair and args.target is None:
        raise TargetError(
            "give a TARGET (a GAN, a train_step function or a trace .json), --generator G --discriminator D, "
            "or --compiled M for each compiled model"
        )
    if pair and (args.generator is None or args.discriminator is None):
        missing = "--discriminator" if args.discriminator is None else "--generator"
        raise TargetError(f"{missing} is missing: the assumed loop needs both --generator and --discriminator")
    _refuse_model_files(args)
    out = args.out or default_out(args.target or args.generator, "_system.png")
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
    if args.verify and not (isinstance(obj, tuple) or _has_step(obj)):
        raise TargetError(
            "--verify runs one real step of the GAN: give a GAN object or a train_step function, "
            "not a trace file or a generator/discriminator pair"
        )
    try:
        diagram = _draw(args, obj, data, common)
    except TraceError as exc:  # the library's hint names its keyword; a CLI user has flags
        raise TraceError(_cli_hint(str(exc))) from None
    print(f"wrote {diagram.path}")
    return 0


def _has_step(obj: Any) -> bool:
    return callable(getattr(type(obj), "train_step", None)) and not isinstance(obj, dict)


def _cli_hint(message: str) -> str:
    """The tracer's advice in the command line's words: flags, not keyword arguments.

    >>> _cli_hint("cannot tell the shape: pass data=<an example batch, a tf.TensorSpec>")
    'cannot tell the shape: pass --data-shape (one real example, e.g. --data-shape 28,28,1; --batch-size N for the batch)'
    """
    import re

    flags = "--data-shape (one real example, e.g. --data-shape 28,28,1; --batch-size N for the batch)"
    message = message.replace("plot_gan(compiled=[d, combined])", "--compiled f.py:d --compiled f.py:combined")
    message = message.replace(
        "plot_gan(compiled=[discriminator, combined])", "--compiled f.py:d --compiled f.py:combined"
    )
    message = re.sub(r"\bcompiled= ", "--compiled ", message)
    message = message.replace("generator= and discriminator=", "--generator and --discriminator")
    return re.sub(r"data=<[^>]*>", flags, message)


def _draw(args: argparse.Namespace, obj: Any, data: Any, common: dict[str, Any]) -> Any:
    from ..api import plot_gan

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
        obj = _verified(fn, *example) if args.verify else trace_step(fn, *example)
    elif args.verify and not isinstance(obj, Trace):
        obj = _verified(obj, data)
    if isinstance(obj, dict) and "generator" in obj and "discriminator" in obj:
        return plot_gan(
            generator=obj["generator"], discriminator=obj["discriminator"], combined=obj.get("combined"), **common
        )
    if isinstance(obj, Trace) or _has_step(obj):
        return plot_gan(obj, data=data, **common)
    return plot_gan(obj, data=data, **common, script=_scripts([args.target]))  # the script's own object


def _verified(target: Any, *batch: Any) -> Trace:
    """``verify_trace`` with its findings as lines: each fact that fails one warning line, then the verdict."""
    import warnings

    from ..extract.step_trace.verify import VerifyWarning, verify_trace

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VerifyWarning)
        trace = verify_trace(target, *batch)
    for w in caught:
        if issubclass(w.category, VerifyWarning):
            print(f"ganviz: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    if trace.verified is not None:
        print(trace.verified.verdict())
    return trace


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ganviz gan`` to the subparsers ``sub``."""
    sg = subcommand(
        sub, "gan", "draw a whole GAN training step", "Trace a GAN's train_step and draw the whole system.", EXAMPLES
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
    sg.add_argument(
        "--compiled",
        metavar="T",
        action="append",
        help="a compiled model FILE.py:NAME, drawn as its own train_on_batch from its compile (no step); "
        "repeat in training order: --compiled f.py:d --compiled f.py:combined",
    )
    sg.add_argument("--merge-calls", action="store_true", help="one box per model instead of one per call")
    add_out(sg, FORMAT_HELP + " (default: NAME_system.png)")
    sg.add_argument("--expand-nested", action="store_true", help="draw each model's architecture inside its box")
    add_rankdir(sg)
    sg.add_argument(
        "--data-shape",
        type=shape_value,
        action="append",
        help="shape of one real example, e.g. 28,28,1 (if not found); repeat for a tuple batch: "
        "--data-shape 28,28,1 --data-shape 10",
    )
    sg.add_argument(
        "--batch-size", type=pos_int, default=8, help="batch size of the example made from --data-shape (default 8)"
    )
    sg.add_argument(
        "--verify",
        action="store_true",
        help="also run one real step (every weight and optimizer state put back) and check the picture against it",
    )
    sg.set_defaults(func=run)

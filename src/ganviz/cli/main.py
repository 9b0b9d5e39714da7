"""The ``ganviz`` command line: dispatch to one module per subcommand, and the mapping of errors to one line.

Each subcommand (``plot_command.py``, ``gan_command.py``, ``train_command.py``, ``report_command.py``,
``demo_command.py``) holds its parser and its handler; this module only builds the parser from
them, parses, runs the handler and turns every refusal into one line and exit code 2.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import GanvizError
from ..render.formats import EXTENSIONS
from . import demo_command, gan_command, plot_command, report_command, train_command
from .args import ALIASES, Parser, UsageError
from .backend import choose_backend, missing_extra

__all__ = ["main", "build_parser"]

_SUBCOMMANDS = {"plot": plot_command, "gan": gan_command, "train": train_command, "report": report_command,
                "demo": demo_command}  # fmt: skip
COMMANDS = tuple(_SUBCOMMANDS)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


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
    p = Parser(
        prog="ganviz",
        description="See your GANs: draw Keras models and whole training steps, train with monitors.",
        epilog=ALIASES,
    )
    p.add_argument("--version", action="version", version=f"ganviz {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _SUBCOMMANDS.values():
        module.add_parser(sub)
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
        if not word.startswith("-") and Path(word).suffix.lower() in EXTENSIONS and hasattr(args, "out"):
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
    from .targets import new_run

    new_run()
    note = choose_backend()
    if note is not None:
        print(f"ganviz: {note}", file=sys.stderr)
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        line = missing_extra(exc)
        if line is None:
            raise
        print(f"ganviz: error: {line}", file=sys.stderr)
        return 2
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
        print(f"ganviz: interrupted{train_command.interrupted(args)}", file=sys.stderr)
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

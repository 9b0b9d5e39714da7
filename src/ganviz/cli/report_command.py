"""``ganviz report RUN``: a run folder's self-contained HTML report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .._io import check_writable
from ..errors import GanvizError, TargetError, UnknownFormatError
from .args import add_out, subcommand

EXAMPLES = """examples:
  ganviz report run1
  ganviz report run1 -o run1_report.html"""


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.exists():
        raise TargetError(f"run folder {args.run_dir!r} not found (give the --out folder of `ganviz train`)")
    if not run_dir.is_dir():
        raise TargetError(f"{args.run_dir!r} is a file, not a run folder (give the --out folder of `ganviz train`)")
    from ..errors import RunFileError
    from ..train.run.folder import RunFolder
    from ..train.run.reading import check_run_file

    metrics = RunFolder(run_dir).metrics
    if not os.path.lexists(metrics):
        raise TargetError(f"{args.run_dir!r} holds no metrics.jsonl: is it a `ganviz train` run folder?")
    try:
        check_run_file(run_dir, metrics, limit=1 << 62)
    except RunFileError as exc:
        raise TargetError(f"cannot report on {args.run_dir!r}: {exc} (it must be the run's own file)") from None
    if args.out:
        check_report_name(args.out)
        check_writable(args.out)
    else:
        _remove_leftovers(run_dir)
    from ..train.outputs.report import write_report

    path = write_report(run_dir, out=args.out)
    print(f"wrote {path}")
    return 0


def _remove_leftovers(run_dir: Path) -> None:
    """Delete the temporary files killed runs and reports left (only while no run is writing the folder)."""
    from ..train.run.lock import RunLock
    from ..train.run.rules import remove_partial

    try:
        lock = RunLock(run_dir).acquire()
    except (GanvizError, OSError):
        return  # a live run (or a folder we cannot write): its temporary files may be in use
    try:
        remove_partial(run_dir)
    finally:
        lock.release()


def check_report_name(out: str) -> None:
    """Refuse a report file name that is not ``.html``."""
    if Path(out).suffix.lower() not in (".html", ".htm"):
        raise UnknownFormatError(f"a report is an HTML page: give -o a .html name, got {out!r}")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ganviz report`` to the subparsers ``sub``."""
    sr = subcommand(
        sub, "report", "write a run's HTML report", "Write report.html for a training run folder.", EXAMPLES
    )
    sr.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of `ganviz train`")
    add_out(sr, "report file (default RUN_DIR/report.html)")
    sr.set_defaults(func=run)

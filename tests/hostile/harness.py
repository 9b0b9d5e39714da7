"""Run ``ganviz`` as a hostile user would: in a subprocess, with a timeout and resource limits, and check the damage.

Time is bounded by each subprocess's timeout (a hang fails the test with ``TimeoutExpired``), never by
timing asserts; memory by ``RLIMIT_AS``; a full disk is simulated with ``RLIMIT_FSIZE``.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Result", "run_cli", "run_python", "run_batch", "snapshot", "assert_refused", "assert_failed", "SRC"]

SRC = Path(__file__).resolve().parents[2] / "src"
_CLI = "import sys; from ganviz.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Result:
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def _limits(mem_mb: int | None, fsize: int | None) -> object:
    def apply() -> None:
        if mem_mb is not None:
            resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def run_python(
    code: str,
    args: list[str],
    *,
    cwd: Path,
    timeout: float = 60,
    mem_mb: int | None = 2048,
    fsize: int | None = None,
) -> Result:
    """Run ``python -c code args`` with ganviz's sources on the path, limits set, HOME inside ``cwd``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{SRC}{os.pathsep}{env['PYTHONPATH']}" if env.get("PYTHONPATH") else str(SRC)
    env["HOME"] = str(cwd / "home")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONWARNINGS"] = "ignore"
    (cwd / "home").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limits(mem_mb, fsize),  # noqa: PLW1509 - limits must be set in the child
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0)


def run_cli(
    args: list[str], *, cwd: Path, timeout: float = 60, mem_mb: int | None = 2048, fsize: int | None = None
) -> Result:
    """``ganviz ARGS`` in a fresh process (``timeout`` seconds, ``mem_mb`` of address space, ``fsize`` bytes per file)."""
    return run_python(_CLI, args, cwd=cwd, timeout=timeout, mem_mb=mem_mb, fsize=fsize)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``root`` (hidden ones too) with its size and SHA-256, to prove nothing changed."""
    out: dict[str, tuple[int, str]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            out[str(p.relative_to(root))] = (len(data), hashlib.sha256(data).hexdigest())
    return out


def assert_refused(res: Result, *words: str) -> str:
    """Exit code 2 and exactly one line on stderr, ``ganviz: error: ...``, holding every one of ``words``."""
    assert "Traceback" not in res.err, res.err[-3000:]
    assert res.rc == 2, f"exit {res.rc}; stderr: {res.err[-2000:]}"
    lines = res.err_lines
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith("ganviz: error: "), line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    return line


_PROGRESS = re.compile(r"^step \d+(/\d+)?  ")


def assert_failed(res: Result, *words: str, rc: int = 2, notes: tuple[str, ...] = ()) -> str:
    """Like :func:`assert_refused` for a run that trained a while: the progress bar's lines may come first, then
    exactly one ``ganviz: error: ...`` line, the last, holding every one of ``words``; exit ``rc``. Lines starting
    with one of ``notes`` (the Monitor's notes the test expects) are allowed too."""
    assert "Traceback" not in res.err, res.err[-3000:]
    assert res.rc == rc, f"exit {res.rc}; stderr: {res.err[-2000:]}"
    lines = [line for line in res.err_lines if not _PROGRESS.match(line) and not line.startswith(notes or "\0")]
    assert len(lines) == 1, f"expected one line on stderr besides the progress bar, got {lines!r}"
    line = lines[0]
    assert line.startswith("ganviz: error: ") and res.err_lines[-1] == line, res.err_lines
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    return line


_BATCH = r"""
import contextlib, io, json, sys, time, traceback
from ganviz.cli import main
jobs = json.load(open(sys.argv[1]))
results = []
for argv in jobs:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException:
            rc = -1
            err.write(traceback.format_exc())
    results.append({"argv": argv, "rc": rc, "out": out.getvalue(), "err": err.getvalue(),
                    "seconds": time.perf_counter() - t0})
json.dump(results, open(sys.argv[2], "w"))
"""


def run_batch(jobs: list[list[str]], *, cwd: Path, timeout: float = 300, mem_mb: int | None = 3072) -> list[Result]:
    """Run many ``ganviz`` command lines in one fresh process (one import), each with its own captured output."""
    import json

    spec, answer = cwd / "jobs.json", cwd / "results.json"
    spec.write_text(json.dumps(jobs), encoding="utf-8")
    res = run_python(_BATCH, [str(spec), str(answer)], cwd=cwd, timeout=timeout, mem_mb=mem_mb)
    assert res.rc == 0, res.err[-3000:]
    rows = json.loads(answer.read_text(encoding="utf-8"))
    spec.unlink()
    answer.unlink()
    return [Result(r["rc"], r["out"], r["err"], r["seconds"]) for r in rows]

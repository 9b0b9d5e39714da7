"""Fail the run when a test module is skipped whole at collection (``importorskip`` of a moved helper, say).

A module-level ``pytest.importorskip`` of a helper that had moved once hid 33 tests of the model-file
reader for a whole release, reported only as one "skipped". With ``GANVIZ_CHECK_COLLECTION=1`` (``make
test`` sets it) and the TensorFlow backend (where every dependency of the suite is installed), any
module skipped whole fails the run, naming it, except for the documented reasons in ``ALLOWED``.
"""

from __future__ import annotations

import os
from typing import Any

# Reasons a module may be skipped whole: none. PyTorch, the one reason once allowed (the registry's torch
# is the ~3 GB CUDA build), is installed by `make setup` from its CPU wheel on disk; where it is missing,
# tests/test_backends.py skips single tests, never a module.
ALLOWED: tuple[str, ...] = ()
_skipped: list[tuple[str, str]] = []


def _active() -> bool:
    return (
        os.environ.get("GANVIZ_CHECK_COLLECTION") == "1"
        and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"
    )


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def pytest_collectreport(report: Any) -> None:
    if report.skipped and report.nodeid.endswith(".py"):
        _skipped.append((report.nodeid, _reason(report)))


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if not _active():
        return
    hidden = [(node, why) for node, why in dict(_skipped).items() if not any(allowed in why for allowed in ALLOWED)]
    if not hidden:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for node, why in hidden:
        line = f"collection check: {node} was skipped whole ({why}); its tests never ran"
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)
    session.exitstatus = 1

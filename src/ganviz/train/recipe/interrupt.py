"""Ctrl-C during ``ganviz train`` stops the run at the next step boundary, never inside a callback of Python's.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT lands. During a
Keras fit that is often a weakref or garbage-collection callback, where Python prints "Exception
ignored" and goes on: the run keeps training with the user's Ctrl-C lost. While a run trains, the
first Ctrl-C only sets a flag; :class:`StopAtStepBoundary` raises ``KeyboardInterrupt`` at the end of
the step that was running (after the Monitor has written what that step owes). A second Ctrl-C
raises at once, as Python would.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

import keras

__all__ = ["StopAtStepBoundary"]


class StopAtStepBoundary(keras.callbacks.Callback):
    """A callback and a ``with`` block: inside the block, SIGINT stops training when a step ends.

    Outside the main thread, or when someone else (a debugger, a test runner) owns SIGINT, the block
    changes nothing and Ctrl-C behaves as it always did.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pending = False
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> StopAtStepBoundary:
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self._previous = current
                signal.signal(signal.SIGINT, self._on_sigint)
                self._installed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pending:  # the second Ctrl-C: do not wait for the step
            self._restore()
            raise KeyboardInterrupt
        self.pending = True

    def _check(self) -> None:
        if self.pending:
            self._restore()
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()

"""Ctrl-C during a run: the first one stops at the step boundary, the second at once, the handler is put back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from ganviz.train.recipe.interrupt import StopAtStepBoundary


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_first_ctrl_c_waits_for_the_step_end_then_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    with StopAtStepBoundary() as stop:
        _ctrl_c()  # lands now, in this frame: only a flag
        assert stop.pending
        with pytest.raises(KeyboardInterrupt):
            stop.on_train_batch_end(0)
        assert signal.getsignal(signal.SIGINT) is before  # raising gave SIGINT back
    assert signal.getsignal(signal.SIGINT) is before


def test_second_ctrl_c_raises_at_once() -> None:
    with StopAtStepBoundary():
        _ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            _ctrl_c()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_ctrl_c_no_stop_and_the_handler_is_restored_after_an_error() -> None:
    with pytest.raises(ValueError), StopAtStepBoundary() as stop:
        stop.on_train_batch_end(0)
        stop.on_epoch_end(0)
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        raise ValueError("the step failed")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_someone_elses_handler_is_left_alone() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with StopAtStepBoundary() as stop:
            _ctrl_c()
            assert seen == [signal.SIGINT] and not stop.pending
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_it_changes_nothing() -> None:
    found: list[object] = []

    def run() -> None:
        with StopAtStepBoundary():
            found.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert found == [signal.default_int_handler]

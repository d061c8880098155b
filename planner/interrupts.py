"""Ctrl-C and SIGTERM, seen the same way: the code that saves what was measured on Ctrl-C runs on
SIGTERM too (timeouts, Slurm, Kubernetes), and whoever ends the command learns which one came.

Phases that catch KeyboardInterrupt to keep their partial results (the noise steps, the DDP ranks)
leave `received()` set, so later phases are skipped and the report is marked interrupted.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from planner.errors import EXIT_INTERRUPTED, EXIT_TERMINATED

_received: list[int] = []
Forward = Callable[[type[KeyboardInterrupt]], None]
_forward: list[Forward] = []  # innermost last: who takes a signal instead of an exception in the main thread


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be."""


def _handler(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    exc_type = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    if _forward:
        _forward[-1](exc_type)
        return
    raise exc_type()


@contextmanager
def forwarded(to: Forward) -> Iterator[None]:
    """Inside, a signal calls `to` with the exception it would raise, instead of raising it in the main
    thread at whatever line that runs: a thread that waits on a worker (planner/deadline.py) passes
    it on, and no wait or bookkeeping of its own is cut in half. Off the main thread: no effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _forward.append(to)
    try:
        yield
    finally:
        _forward.remove(to)


def install() -> Callable[[], None]:
    """Catch SIGINT and SIGTERM (main thread only); returns the function that puts the old handlers back."""
    _received.clear()
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old: dict[int, Any] = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore


def received() -> int | None:
    """The first signal since install(), or None."""
    return _received[0] if _received else None


def exit_code() -> int:
    return EXIT_TERMINATED if received() == signal.SIGTERM else EXIT_INTERRUPTED


def name() -> str:
    return "SIGTERM" if received() == signal.SIGTERM else "Ctrl-C"

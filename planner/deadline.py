"""The probe under its time limit: the user's code runs in a worker thread that the caller waits on.

A user's factory, make_batch or loss can block (a loader waiting on a queue that never fills, a
deadlock): then no check between steps ever runs again. So the probe runs in a daemon thread and
the calling thread waits for it with a timeout. Once the bound passes -- the time limit x 1.1 or
the time limit + the longest step measured, whichever is later (`Watch.bound`) -- it stops waiting:
the thread is sent `Abandoned` (delivered at its next Python bytecode, so a thread blocked in C
stays blocked), the caller builds the report from what was recorded, and the process that ends
after saving it leaves with `os._exit` while such a thread lives (`hung_threads`).

Ctrl-C and SIGTERM reach only the main thread: while it waits they are handed to it as a note
(interrupts.forwarded), never as an exception at an arbitrary line, and passed on to the worker as
the same exception, where the probe handles them as it always did (interrupts.py). A worker that has not
finished INTERRUPT_GRACE_S after that, or after the caller's cancel event, is abandoned the same way.

`Watch.lock` guards what the worker records: the caller takes it before it sends `Abandoned` and
never gives it back, so the report it builds is a consistent snapshot and the worker can record
nothing after it (a point being appended to the point log is never torn by the exception).
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from planner import interrupts

T = TypeVar("T")
StopWhy = Literal["time-limit", "interrupted", "cancelled"]

POLL_S = 0.1  # how often the waiting thread looks at the clock and the cancel event
INTERRUPT_GRACE_S = 3.0  # after Ctrl-C, SIGTERM or cancel, the worker's time to save and return by itself
LOCK_WAIT_S = 1.0  # the longest a record (a point appended to the log) holds Watch.lock
UNWIND_WAIT_S = 0.2  # a worker in Python code unwinds from Abandoned within this; one blocked in C never does
REPORT_RESERVE_S = 0.1  # building and saving the report after that, within the bound
OVER_FRACTION = 0.1  # the bound: 10% over the limit, or one step, whichever is larger

_hung: list[threading.Thread] = []


class Abandoned(BaseException):
    """Raised in a worker the caller stopped waiting for: unwind and record nothing more.

    A BaseException, so that the user's `except Exception` does not swallow it."""


@dataclass
class Watch:
    """What the worker tells the waiting thread: when the probe began, its limit, the longest step
    measured so far and where it is now (for the warning when it must be abandoned)."""

    began: float  # time.perf_counter() when the probe started (setup counts against the limit)
    limit_s: float
    longest_step_s: float = 0.0
    phase: str = "the setup (model build, optimizer, FLOP count)"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bound(self) -> float:
        """The perf_counter time past which the probe is abandoned."""
        return self.began + max((1 + OVER_FRACTION) * self.limit_s, self.limit_s + self.longest_step_s)

    def give_up(self) -> float:
        """When the waiting thread stops waiting: early enough to unwind the worker and save the
        report within the bound, never before the limit itself."""
        return max(self.deadline(), self.bound() - UNWIND_WAIT_S - REPORT_RESERVE_S)

    def deadline(self) -> float:
        """The perf_counter time by which the probe's own checks end it: began + the limit."""
        return self.began + self.limit_s

    def saw_step(self, seconds: float) -> None:
        self.longest_step_s = max(self.longest_step_s, seconds)

    def elapsed(self) -> float:
        return time.perf_counter() - self.began


@dataclass
class _Outcome(Generic[T]):
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    error: BaseException | None = None
    returned: bool = False


def run_watched(body: Callable[[], T], watch: Watch, stopped: Callable[[StopWhy], T],
                cancel: threading.Event | None = None) -> T:
    """body() in a daemon thread, its result or exception here. Past watch.bound(), or a grace after
    Ctrl-C / SIGTERM / cancel, the thread is abandoned and stopped(why) builds the result instead
    (with Watch.lock held)."""
    outcome: _Outcome[T] = _Outcome()

    def work() -> None:
        try:
            try:
                outcome.value = body()
                outcome.returned = True
            except Abandoned:
                pass
            except BaseException as exc:  # handed to the waiting thread, which raises it
                outcome.error = exc
        except BaseException:  # sent after the body had ended (Abandoned, a forwarded Ctrl-C): nothing to unwind
            pass
        finally:
            outcome.done.set()

    worker = threading.Thread(target=work, name="batchfit-probe", daemon=True)
    signals: list[type[KeyboardInterrupt]] = []  # Ctrl-C / SIGTERM received while waiting, in order
    why: StopWhy = "time-limit"
    until: float | None = None  # the grace's end once the worker was asked to stop
    with interrupts.forwarded(signals.append):
        worker.start()
        while True:
            end = watch.give_up() if until is None else min(until, watch.give_up())
            if outcome.done.wait(max(0.0, min(POLL_S, end - time.perf_counter()))):
                break
            if signals:
                _raise_in(worker, signals.pop(0), watch.lock)
                why, until = "interrupted", time.perf_counter() + INTERRUPT_GRACE_S
                continue
            if until is None and cancel is not None and cancel.is_set():
                why, until = "cancelled", time.perf_counter() + INTERRUPT_GRACE_S
            if time.perf_counter() >= end and not outcome.done.is_set():
                if until is None or time.perf_counter() >= watch.give_up():
                    why = "time-limit"
                return _abandon(worker, outcome, watch, stopped, why)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.returned
    return outcome.value  # type: ignore[return-value]


def _abandon(worker: threading.Thread, outcome: _Outcome[T], watch: Watch, stopped: Callable[[StopWhy], T],
             why: StopWhy) -> T:
    held = watch.lock.acquire(timeout=LOCK_WAIT_S)  # kept: the worker records nothing after this
    _raise_in(worker, Abandoned, None)
    outcome.done.wait(UNWIND_WAIT_S)
    if outcome.returned or outcome.error is not None:  # it finished in the meantime after all
        if held:
            watch.lock.release()
        if outcome.error is not None:
            raise outcome.error
        return outcome.value  # type: ignore[return-value]
    if worker.is_alive():
        _hung.append(worker)
    return stopped(why)


def _raise_in(worker: threading.Thread, exc_type: type[BaseException], lock: threading.Lock | None) -> None:
    """Raise exc_type in the worker at its next bytecode (CPython's async exception), outside any
    record it is making when `lock` is given."""
    if worker.ident is None or not worker.is_alive():
        return
    held = lock is not None and lock.acquire(timeout=LOCK_WAIT_S)
    try:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(exc_type))
    finally:
        if held and lock is not None:
            lock.release()


def hung_threads() -> list[threading.Thread]:
    """Abandoned workers still alive: a process that saved its report leaves with os._exit while any is."""
    return [t for t in _hung if t.is_alive()]

"""`--out FILE`: checked writable before the probe starts, and held by one probe at a time.

The lock is `<out>.lock`, made with O_EXCL and holding the owner's pid: a second probe on the same
--out is refused instead of interleaving its points into the first one's log. A lock left by a
process that is gone (killed with SIGKILL) is taken over.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from planner.errors import BadInput


def check_writable(out: Path) -> None:
    """BadInput now, not after a long probe, if the report could not be saved at `out`."""
    if out.is_dir():
        raise BadInput(f"--out {out} is a directory; give a file name, e.g. --out {out / 'probe.json'}")
    if out.exists() and not out.is_file():
        raise BadInput(f"--out {out} is not a regular file (a FIFO or device); give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"--out {out}: the folder {parent} does not exist; create it first")
    try:  # the only sure test: make (and remove) a file beside it
        handle, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".check", dir=parent)
    except OSError as exc:
        raise BadInput(f"--out {out}: cannot write in {parent} ({exc.strerror}); pick a writable folder") from None
    os.close(handle)
    os.unlink(probe)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """Hold `<out>.lock` while the probe writes `out` and its point log."""
    lock = out.with_name(out.name + ".lock")
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                owner = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                owner = 0
            if owner and _alive(owner):
                raise BadInput(f"another probe (pid {owner}) is writing {out}; wait for it, or give another --out") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise BadInput(f"cannot take the lock {lock}; remove it if no probe is running")
    try:
        os.write(handle, f"{os.getpid()}\n".encode())
        os.close(handle)
        yield
    finally:
        lock.unlink(missing_ok=True)

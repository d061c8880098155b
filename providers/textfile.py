"""Reading a text file the user names: UTF-8 with or without a BOM, any line ending; anything
else (another encoding, a directory, a FIFO, a symlink loop) is one line saying what it is.

Shared by every reader (request files, probe reports, plans, price CSVs), so each says the same.
Lives in providers because providers may not import planner; planner imports it.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


class FileProblem(ValueError):
    """Why a file cannot be read as text; the message completes '<file> ...'."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_text(path: Path) -> str:
    """The file's text, BOM removed, CRLF and CR turned into LF; FileProblem otherwise."""
    try:
        mode = os.stat(path).st_mode  # before open: opening a FIFO would block
    except FileNotFoundError:
        raise FileProblem("not found", missing=True) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileProblem("is a symlink loop; point it at a real file") from None
        raise FileProblem(f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise FileProblem(f"is {_kind(mode)}, not a file; give the path of a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileProblem(f"cannot be read ({exc.strerror}); check the permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        guess = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "not UTF-8 (perhaps Latin-1 or Windows-1252)"
        raise FileProblem(f"is {guess}: byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8; "
                          "save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_text_atomically(path: Path, text: str) -> None:
    """`text` written whole to a unique temporary file beside `path` (two writers never share one),
    pushed to disk, then moved into place: a reader sees the old file or the new one, never half.
    The temporary file never stays; OSError when the directory is unusable."""
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Persistence: every finished point is appended to a JSONL log at once, so none is ever lost.

The first line is a header with the settings that change what a point measures; the rest are
points. `resume` reads the log back and the sweep reuses its ok and oom points instead of
measuring them again (error points are retried). A line cut short by a crash is cut off the file
before anything is appended, so the next point starts on a line of its own. An existing log is
never emptied without `fresh`: a run that gives neither resume nor fresh is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from planner.contracts.probe import ProbePoint
from planner.errors import BadInput
from planner.report_check import check_point

REUSABLE = ("ok", "oom")


class LogHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: Literal["header"] = "header"
    fingerprint: dict[str, str | int | float | bool | None]


class LogPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: Literal["point"] = "point"
    point: ProbePoint


def default_log_path(report_path: Path) -> Path:
    """report.json -> report.json.points.jsonl, next to the report."""
    return report_path.with_name(report_path.name + ".points.jsonl")


class PointLog:
    """Append-only JSONL of one sweep's points; `previous` holds what a resumed log already has."""

    def __init__(self, path: Path, fingerprint: dict, resume: bool, fresh: bool = False):
        self.path = path
        self.previous: dict[int, ProbePoint] = {}
        header = LogHeader(fingerprint=fingerprint)
        exists = path.is_file() and path.stat().st_size > 0
        if resume and exists:
            self.previous = _read(path, header)
            return
        if exists and not fresh:
            raise BadInput(f"{path} already holds measured points; continue them with --resume, "
                           "or start over with --fresh (which replaces them)")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            f.write(header.model_dump_json() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def append(self, point: ProbePoint) -> None:
        """Write one point and push it to disk before the sweep moves on."""
        with self.path.open("a") as f:
            f.write(LogPoint(point=point).model_dump_json() + "\n")
            f.flush()
            os.fsync(f.fileno())


def _read(path: Path, expected: LogHeader) -> dict[int, ProbePoint]:
    # A crash can cut a character in two: that line fails to parse below, like any torn line.
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    try:
        header = LogHeader.model_validate_json(lines[0])
    except ValidationError as exc:
        raise BadInput(f"{path} is not a batchfit point log; delete it or drop --resume") from exc
    if header.fingerprint != expected.fingerprint:
        changed = sorted(k for k in expected.fingerprint if header.fingerprint.get(k) != expected.fingerprint[k])
        raise BadInput(f"{path} was written with different settings ({', '.join(changed)}); "
                       "run with the same settings, or drop --resume to start over")
    points: dict[int, ProbePoint] = {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            point = LogPoint.model_validate_json(line).point
            check_point(point, f"{path}:{number}")
        except ValidationError:
            if number == len(lines):
                _cut_torn_tail(path)  # the crash cut the last line short; that point is measured again
                break
            raise BadInput(f"{path}:{number} is not a point record; start over with --fresh") from None
        if point.status in REUSABLE:
            points[point.batch_size] = point
    _end_with_newline(path)
    return points


def _cut_torn_tail(path: Path) -> None:
    """Truncate the file after its last complete line (the one a crash cut short goes)."""
    data = path.read_bytes()
    keep = data.rfind(b"\n", 0, len(data) - 1 if data.endswith(b"\n") else len(data)) + 1
    with path.open("r+b") as f:
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())


def _end_with_newline(path: Path) -> None:
    """A last line that parsed but lost its newline gets it back, so the next point starts a line."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("ab") as f:
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())

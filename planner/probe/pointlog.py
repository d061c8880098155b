"""Persistence: every finished point is appended to a JSONL log at once, so none is ever lost.

The first line is a header with the settings that change what a point measures; the rest are
points. `resume` reads the log back and the sweep reuses its ok and oom points instead of
measuring them again (error points are retried). A line cut short by a crash is ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from planner.contracts.probe import ProbePoint
from planner.errors import BadInput

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

    def __init__(self, path: Path, fingerprint: dict, resume: bool):
        self.path = path
        self.previous: dict[int, ProbePoint] = {}
        header = LogHeader(fingerprint=fingerprint)
        if resume and path.is_file() and path.stat().st_size:
            self.previous = _read(path, header)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header.model_dump_json() + "\n")

    def append(self, point: ProbePoint) -> None:
        """Write one point and push it to disk before the sweep moves on."""
        with self.path.open("a") as f:
            f.write(LogPoint(point=point).model_dump_json() + "\n")
            f.flush()
            os.fsync(f.fileno())


def _read(path: Path, expected: LogHeader) -> dict[int, ProbePoint]:
    lines = path.read_text().splitlines()
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
        except ValidationError:
            if number == len(lines):
                break  # the crash cut the last line short; that point is measured again
            raise BadInput(f"{path}:{number} is not a point record; delete the log or drop --resume") from None
        if point.status in REUSABLE:
            points[point.batch_size] = point
    return points

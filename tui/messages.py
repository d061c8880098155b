"""Messages the screens post to the app: the app owns the request, the report and the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from textual.message import Message

from planner.contracts.probe import ProbeReport
from planner.contracts.request import PlanRequest

ReportSource = Literal["probe", "cancelled", "file"]


class RequestEdited(Message):
    """A screen produced a valid request (the setup form, or the plan screen's limits bar)."""

    def __init__(self, request: PlanRequest) -> None:
        super().__init__()
        self.request = request


class ReportReady(Message):
    """A probe finished (or was cancelled with points measured), or a saved report was loaded."""

    def __init__(self, report: ProbeReport, source: ReportSource) -> None:
        super().__init__()
        self.report = report
        self.source = source


class PlanExported(Message):
    """The plan was written to `path`."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

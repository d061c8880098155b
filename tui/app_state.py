"""What the screens need from the app: the state they show, as a protocol.

Screens depend on this, not on `tui.app.BatchfitApp`, so the app imports its screens and no
screen imports the app (no TYPE_CHECKING circle). BatchfitApp satisfies it structurally; a
test checks that it does.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

from planner.contracts import Plan, PlanRequest, ProbeReport
from providers.schema import Catalog


@runtime_checkable
class AppState(Protocol):
    """The request, report, catalog and plan every screen reads; the app owns and updates them."""

    request: PlanRequest | None
    report: ProbeReport | None
    catalog: Catalog | None
    presets: tuple[str, ...]
    plan: Plan | None
    plan_problem: str
    report_note: str

    def today(self) -> dt.date: ...

"""Regenerate the README's screenshots in docs/: the plan's candidates and chart, and the probe, from a real CPU probe.

    .venv/bin/python scripts/plan_screenshot.py

Uses the gpt-tiny probe the CLI tests keep (tests/cli/data/gpt-tiny-cpu.json), the bundled
price tables and a fixed clock, so the picture changes only when the planner or the app does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from planner.contracts import PlanRequest, ReferenceRun, Workload
from planner.report_file import load_probe_report
from providers.catalog import load_catalog
from textual.widgets import TabbedContent

from tui.app import BatchfitApp

REPO = Path(__file__).resolve().parent.parent
CLOCK = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
SIZE = (110, 32)


def request_for(model: str) -> PlanRequest:
    return PlanRequest(model=model, workload=Workload(tokens=2_000_000_000), budget_usd=500,
                       deadline_hours=24, spot=True, reference=ReferenceRun(batch_size=64, lr=6e-4))


async def main() -> None:
    request = request_for("gpt-tiny")
    report = load_probe_report(REPO / "tests" / "cli" / "data" / "gpt-tiny-cpu.json")
    app = BatchfitApp(request=request, report=report, catalog=load_catalog(today=CLOCK.date()),
                      presets=["gpt-tiny"], clock=lambda: CLOCK)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.save_screenshot(filename="plan-screen.svg", path=str(REPO / "docs"))
        app.screen.query_one(TabbedContent).active = "tab-chart"
        await pilot.pause()
        app.save_screenshot(filename="plan-chart.svg", path=str(REPO / "docs"))
    # The probe screen with a real GPU run: GPT-2 small on an H200, its noise scale read after training.
    gpu = load_probe_report(REPO / "bench" / "results" / "h200-2026-11-26-noise" / "run2"
                            / "probe-gpt2-small-noise-trained.json")
    probe_app = BatchfitApp(request=request_for(gpu.model.id), report=gpu, catalog=load_catalog(today=CLOCK.date()),
                            presets=[gpu.model.id], clock=lambda: CLOCK)
    async with probe_app.run_test(size=SIZE) as pilot:
        await probe_app.switch_mode("probe")
        await pilot.pause()
        probe_app.save_screenshot(filename="probe-screen.svg", path=str(REPO / "docs"))


if __name__ == "__main__":
    asyncio.run(main())

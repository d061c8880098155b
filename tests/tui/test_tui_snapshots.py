"""Screens as pictures, at 80x24 and at 160x48, dark and light.

Deterministic by construction: hand-made catalog and report, a fixed clock (plan date, price
ages), no probe running (no timings, no spinner). Update after a deliberate change with
`pytest tests/tui --snapshot-update` and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent
from tui_fixtures import AppFactory, make_report, make_request

SnapCompare = Callable[..., bool]


def steady(pilot: Pilot) -> None:
    """No blinking cursor: a focused Input would otherwise be caught on or off at random."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def plan_tab(tab: str) -> Callable[[Pilot], None]:
    def show(pilot: Pilot) -> None:
        pilot.app.screen.query_one(TabbedContent).active = tab

    return show


def test_plan_candidates_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(deadline_hours=0.5), report=make_report())
    assert snap_compare(app, terminal_size=(80, 24))


def test_plan_chart_80x24_light(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(deadline_hours=0.5, budget_usd=5.0), report=make_report())
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(80, 24), run_before=plan_tab("tab-chart"))


def test_plan_why_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(deadline_hours=0.5), report=make_report())
    assert snap_compare(app, terminal_size=(160, 48), run_before=plan_tab("tab-why"))


def test_plan_candidates_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(deadline_hours=0.5, spot=True), report=make_report())
    assert snap_compare(app, terminal_size=(160, 48))


def test_setup_with_a_mistake_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    async def mistype(pilot: Pilot) -> None:
        await pilot.app.switch_mode("setup")
        pilot.app.screen.query_one("#ref_lr", Input).value = "fast"
        steady(pilot)

    app = make_app(request=make_request())
    assert snap_compare(app, terminal_size=(80, 24), run_before=mistype)


def test_probe_with_a_loaded_report_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    async def show_probe(pilot: Pilot) -> None:
        await pilot.app.switch_mode("probe")

    app = make_app(request=make_request(), report=make_report())
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_probe)


def test_quotes_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request())
    assert snap_compare(app, terminal_size=(80, 24), press=["f4"])


def test_plan_chart_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(deadline_hours=0.5, budget_usd=5.0, spot=True), report=make_report())
    assert snap_compare(app, terminal_size=(160, 48), run_before=plan_tab("tab-chart"))


def test_help_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"])


def test_export_dialog_80x24(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report(), export_folder=Path("/home/you/runs"))

    async def open_export(pilot: Pilot) -> None:
        await pilot.press("ctrl+e")
        await pilot.pause()
        steady(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_export)


def test_setup_at_start_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    async def settle(pilot: Pilot) -> None:
        await pilot.pause()
        steady(pilot)

    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=settle)


def test_probe_with_a_noise_scale_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    from test_tui_probe import noisy_report

    async def show_probe(pilot: Pilot) -> None:
        await pilot.app.switch_mode("probe")

    app = make_app(request=make_request(), report=noisy_report())
    assert snap_compare(app, terminal_size=(160, 48), run_before=show_probe)


def test_quotes_160x48(snap_compare: SnapCompare, make_app: AppFactory) -> None:
    app = make_app(request=make_request())
    assert snap_compare(app, terminal_size=(160, 48), press=["f4"])

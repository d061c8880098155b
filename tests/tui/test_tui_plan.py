"""Plan screen: sort and filter the candidates, re-plan on new limits, explain, export."""

from __future__ import annotations

import json
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static, TabbedContent
from tui_fixtures import AppFactory, Recorder, make_report, make_request

from planner.contracts.plan import Plan
from planner.contracts.request import PlanRequest, ReferenceRun, Workload
from planner.report_file import load_probe_report
from tests.models import TRACED
from tui.messages import PlanExported, RequestEdited
from tui.screens.plan import PlanScreen
from tui.widgets.candidate_table import CandidateTable
from tui.widgets.plan_explanation import PlanExplanation
from tui.widgets.xy_plot import XYPlot


def table(pilot: Pilot) -> CandidateTable:
    return pilot.app.screen.query_one(CandidateTable)


def shown(pilot: Pilot) -> list:
    plan = pilot.app.plan
    return [plan.candidate(i) for i in table(pilot).shown_ids()]


async def set_input(pilot: Pilot, selector: str, text: str) -> None:
    """Type into a field and wait out its debounce (limits and filter re-plan once the keys pause)."""
    pilot.app.screen.query_one(selector, Input).value = text
    await pilot.pause(0.15)
    await pilot.pause()


async def test_opens_on_the_plan_with_a_request_and_a_report(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)
        assert app.plan is not None and app.plan.recommendation is not None
        assert len(shown(pilot)) == len(app.plan.candidates)
        rec = app.plan.candidate(app.plan.recommendation.candidate_id)
        headline = str(app.screen.query_one("#plan-headline", Static).content)
        assert rec.instance in headline and f"batch {rec.global_batch}" in headline
        assert app.plan.created_at.isoformat() == "2026-11-20T12:00:00+00:00"


async def test_sorting_by_keys_and_by_header(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        costs = [c.cost_usd for c in shown(pilot)]
        assert costs == sorted(costs)
        table(pilot).focus()
        await pilot.press("d")  # the Due column's letter
        await pilot.press("r")
        assert (table(pilot).sort_key, table(pilot).reverse) == ("deadline", True)
        await pilot.press("h")
        hours = [c.hours for c in shown(pilot)]
        assert hours == sorted(hours) and table(pilot).sort_key == "hours"
        await pilot.press("h")  # the same letter again reverses
        assert [c.hours for c in shown(pilot)] == sorted(hours, reverse=True)
        await pilot.click(CandidateTable, offset=(3, 0))  # the first header: the provider column
        await pilot.pause()
        providers = [c.provider for c in shown(pilot)]
        assert table(pilot).sort_key == "provider" and providers == sorted(providers)


async def test_a_sort_a_filter_and_a_replan_put_the_view_back_at_the_top(make_app: AppFactory) -> None:
    app = make_app(request=make_request(spot=True), report=make_report())
    async with app.run_test(size=(100, 20)) as pilot:
        grid = table(pilot)
        grid.focus()
        await pilot.press("end")
        assert grid.cursor == grid.row_count - 1 and grid.scroll_offset.y > 0
        await pilot.press("h")
        assert grid.cursor == 0 and grid.scroll_offset.y == 0
        assert shown(pilot)[0].hours == min(c.hours for c in shown(pilot))
        await pilot.press("end")
        await set_input(pilot, "#filter-query", "aws")
        assert grid.cursor == 0 and grid.scroll_offset.y == 0
        await set_input(pilot, "#filter-query", "")
        grid.focus()
        await pilot.press("end")
        await set_input(pilot, "#limit-budget", "30")
        assert grid.cursor == 0 and grid.scroll_offset.y == 0 and app.request.budget_usd == 30


async def test_rows_that_differ_only_by_region_are_one_row_that_expands(make_app: AppFactory) -> None:
    from tui_fixtures import H100, make_catalog, offer

    catalog = make_catalog()
    regions = [offer("aws", "p5.48xlarge", H100, 8, 55.04 + i, region=r)
               for i, r in enumerate(("us-west-2", "eu-west-1"), start=1)]
    catalog = catalog.model_copy(update={"offers": [*catalog.offers, *regions]})
    app = make_app(request=make_request(), report=make_report(), catalog=catalog)
    async with app.run_test(size=(140, 30)) as pilot:
        grid = table(pilot)
        p5 = [r for r in grid.rows if r.candidate.instance == "p5.48xlarge"]
        assert p5 and all(len(r.group.members) == 3 and not r.detail for r in p5)
        assert all(r.candidate.region == "us-east-1" for r in p5)  # the cheapest region leads
        assert len(grid.rows) < len(app.plan.candidates)
        grid.focus()
        at = grid.rows.index(p5[0])
        grid.cursor = at
        await pilot.press("space")
        details = [r for r in grid.rows if r.detail]
        assert [r.candidate.region for r in details] == ["us-east-1", "us-west-2", "eu-west-1"]
        assert grid.rows[grid.cursor].group.key == p5[0].group.key
        line = grid.render_line(grid.cursor - round(grid.scroll_offset.y) + 2).text  # under the header
        assert "└" in line and "us-east-1" in line
        await pilot.press("space")
        assert not any(r.detail for r in grid.rows)
        await set_input(pilot, "#filter-query", "eu-")  # a region matches by its start
        assert {r.candidate.region for r in grid.rows} == {"eu-west-1"}


async def test_an_invalid_limit_marks_the_plan_stale_until_fixed(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        await set_input(pilot, "#limit-budget", "-5")
        headline = str(app.screen.query_one("#plan-headline", Static).content)
        assert headline.startswith("STALE ") and app.screen.query_one("#plan-tabs").has_class("-stale")
        await set_input(pilot, "#limit-budget", "50")
        headline = str(app.screen.query_one("#plan-headline", Static).content)
        assert not headline.startswith("STALE") and not app.screen.query_one("#plan-tabs").has_class("-stale")
        assert app.request.budget_usd == 50


async def test_typing_a_limit_re_plans_once_the_keys_pause(make_app: AppFactory, recorder: Recorder) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        field = app.screen.query_one("#limit-budget", Input)
        for text in ("2", "2e", "2e1", "2e10"):  # four keystrokes faster than the debounce
            field.value = text
        await pilot.pause(0.15)
        await pilot.pause()
        assert [m.request.budget_usd for m in recorder.of(RequestEdited)] == [2e10]


async def test_filtering_by_text_feasibility_and_frontier(make_app: AppFactory) -> None:
    app = make_app(request=make_request(deadline_hours=0.5, spot=True), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        await set_input(pilot, "#filter-query", "aws spot")
        rows = shown(pilot)
        assert rows and all(c.provider == "aws" and c.market == "spot" for c in rows)
        await set_input(pilot, "#filter-query", "")
        app.screen.query_one("#filter-feasible", Checkbox).value = True
        await pilot.pause()
        rows = shown(pilot)
        assert rows and all(c.meets_deadline and c.meets_budget for c in rows)
        assert len(rows) < len(app.plan.candidates)
        app.screen.query_one("#filter-feasible", Checkbox).value = False
        app.screen.query_one("#filter-frontier", Checkbox).value = True
        await pilot.pause()
        assert sorted(table(pilot).shown_ids()) == sorted(app.plan.pareto)


async def test_a_tighter_budget_changes_the_recommendation_at_once(make_app: AppFactory,
                                                                    recorder: Recorder) -> None:
    report = make_report()
    app = make_app(request=make_request(deadline_hours=0.3), report=report)
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        before = app.plan
        assert before is not None and before.recommendation is not None
        chosen = before.candidate(before.recommendation.candidate_id)
        await set_input(pilot, "#limit-deadline", "")
        after = app.plan
        assert after is not None and after.recommendation is not None
        cheaper = after.candidate(after.recommendation.candidate_id)
        assert cheaper.cost_usd < chosen.cost_usd
        assert after.recommendation.bound_by == "none" and before.recommendation.bound_by == "deadline"
        assert app.request.deadline_hours is None and recorder.of(RequestEdited)

        await set_input(pilot, "#limit-budget", f"{cheaper.cost_usd * 0.5:.2f}")
        assert app.plan.recommendation is None
        assert app.plan.infeasible and app.plan.infeasible[0].startswith("budget:")
        headline = str(app.screen.query_one("#plan-headline", Static).content)
        assert headline.startswith("Nothing meets the limits: budget:")
        assert app.report is report  # re-planned, not re-probed


async def test_spot_and_providers_re_plan_and_bad_values_are_explained(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        assert all(c.market == "on-demand" for c in app.plan.candidates)
        app.screen.query_one("#limit-spot", Checkbox).value = True
        await pilot.pause()
        assert app.request.spot is True
        assert any(c.market == "spot" for c in app.plan.candidates)

        await set_input(pilot, "#limit-providers", "lambda")
        assert {c.provider for c in app.plan.candidates} == {"lambda"}

        plan_before = app.plan
        await set_input(pilot, "#limit-providers", "lambda, oracle")
        error = str(app.screen.query_one("#limits-error", Static).content)
        assert error == "providers: unknown provider oracle; choose from aws, gcp, lambda"
        assert app.screen.query_one("#limit-providers", Input).has_class("-invalid")
        await set_input(pilot, "#limit-budget", "-5")
        assert "budget: must be above 0" in str(app.screen.query_one("#limits-error", Static).content)
        assert app.plan is plan_before


async def test_enter_on_a_row_explains_that_candidate(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        table(pilot).focus()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        chosen = app.plan.candidate(table(pilot).shown_ids()[2])
        assert app.screen.query_one(TabbedContent).active == "tab-why"
        text = str(app.screen.query_one(PlanExplanation).content)
        assert text.startswith("Selected candidate")
        assert f"{chosen.provider} {chosen.instance} {chosen.market}" in text
        assert f"[{chosen.lr.rule}]" in text and f"[{chosen.step_time_provenance}]" in text
        assert "\nCheapest\n" in text and "within the deadline" not in text and "bound by: " in text  # no deadline set
        assert "Adding GPUs: " in text and "If the noise scale were" in text  # the report has no noise scale
        assert f"{app.plan.candidates_evaluated:,} evaluated, " in text and "listed: " in text
        age = "as of 2026-05-01 (6 mo old)" if chosen.provider == "gcp" else "as of 2026-10-01 (50 d old)"
        assert f"{chosen.provider} test table, {age}" in text


async def test_the_chart_marks_the_frontier_and_the_recommendation(make_app: AppFactory) -> None:
    app = make_app(request=make_request(budget_usd=40.0, deadline_hours=5.0), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one(TabbedContent).active = "tab-chart"
        await pilot.pause()
        plot = app.screen.query_one(XYPlot)
        names = [s.name for s in plot.series]
        assert names == ["meets the limits", "Pareto frontier", "recommended", "selected"]
        assert len(plot.series[1].points) == len(app.plan.pareto)
        assert [(g.name, g.value) for g in plot.guides] == [("deadline", 5.0), ("budget", 40.0)]
        rendered = str(plot.render())
        assert "★" in rendered and "◆" in rendered and "┊" in rendered
        assert "hours (log scale)" in rendered and "USD (log scale)" in rendered


async def test_the_chart_zooms_to_the_limits_and_a_key_shows_everything(make_app: AppFactory) -> None:
    app = make_app(request=make_request(budget_usd=10.0, deadline_hours=1.0), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one(TabbedContent).active = "tab-chart"
        await pilot.pause()
        plot = app.screen.query_one(XYPlot)
        zoomed = plot.series[0].points
        feasible = [c for c in app.plan.candidates if c.meets_deadline and c.meets_budget]
        assert len(zoomed) == len({c.id for c in feasible} | set(app.plan.pareto)) < len(app.plan.candidates)
        await pilot.press("z")
        assert plot.series[0].name == "candidate" and len(plot.series[0].points) == len(app.plan.candidates)
        await pilot.press("z")
        assert plot.series[0].points == zoomed


async def test_the_chart_cursor_follows_the_table(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30)) as pilot:
        table(pilot).focus()
        await pilot.press("down", "down")
        chosen = app.plan.candidate(table(pilot).shown_ids()[2])
        app.screen.query_one(TabbedContent).active = "tab-chart"  # the chart draws when it is in view
        await pilot.pause()
        cursor = app.screen.query_one(XYPlot).series[-1]
        assert cursor.name == "selected" and cursor.points == [(chosen.hours, chosen.cost_usd)]


def test_round_ticks() -> None:
    from tui.widgets.xy_plot import linear_ticks, log_ticks

    assert log_ticks(1, 8192, 6) == [1, 10, 100, 1000]
    assert log_ticks(0.17, 0.5, 4) == [0.2, 0.3, 0.4, 0.5]
    assert linear_ticks(0, 4.4, 2) == [0, 2, 4]


async def export(pilot: Pilot, name: str, fmt: str | None = None) -> None:
    from textual.widgets import Select

    await pilot.press("ctrl+e")
    await pilot.pause()
    if fmt is not None:
        pilot.app.screen.query_one("#export-format", Select).value = fmt
        await pilot.pause()
    pilot.app.screen.query_one("#export-name", Input).value = name
    await pilot.press("enter")
    await pilot.pause()


async def test_export_json_and_markdown(make_app: AppFactory, recorder: Recorder, tmp_path: Path) -> None:
    from tui.screens.export_dialog import ExportDialog

    app = make_app(request=make_request(), report=make_report(), export_folder=tmp_path)
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert str(app.screen.query_one("#export-folder", Static).content) == str(tmp_path)
        assert app.screen.query_one("#export-name", Input).value == "batchfit-plan.json"
        await pilot.press("escape")
        await export(pilot, "plan.json")
        await export(pilot, "plan", fmt=".md")
        exported = [m.path for m in recorder.of(PlanExported)]
        assert exported == [(tmp_path / "plan.json").resolve(), (tmp_path / "plan.md").resolve()]
        assert Plan.model_validate(json.loads((tmp_path / "plan.json").read_text())) == app.plan
        assert (tmp_path / "plan.md").read_text().startswith("# batchfit plan: mlp")

        await export(pilot, "plan.txt")
        assert isinstance(app.screen, ExportDialog)  # the error shows inside the dialog, which stays
        error = str(app.screen.query_one("#export-error", Static).content)
        assert "name the file .json or .md" in error and not (tmp_path / "plan.txt").exists()
        await pilot.press("escape")


async def test_export_asks_before_overwriting(make_app: AppFactory, tmp_path: Path) -> None:
    from tui.screens.export_dialog import ExportDialog

    (tmp_path / "plan.json").write_text("keep me")
    app = make_app(request=make_request(), report=make_report(), export_folder=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await export(pilot, "plan.json")
        assert isinstance(app.screen, ExportDialog)
        assert "exists" in str(app.screen.query_one("#export-error", Static).content)
        assert (tmp_path / "plan.json").read_text() == "keep me"
        await pilot.press("enter")  # asked, and answered
        await pilot.pause()
        assert not isinstance(app.screen, ExportDialog)
        assert Plan.model_validate_json((tmp_path / "plan.json").read_text()) == app.plan


async def test_without_a_report_the_plan_screen_says_what_is_missing(make_app: AppFactory) -> None:
    app = make_app(request=make_request())
    async with app.run_test(size=(100, 30)) as pilot:
        await app.switch_mode("plan")
        await pilot.pause()
        assert app.plan is None
        assert str(app.screen.query_one("#plan-headline", Static).content) == \
            "No plan yet: run a probe or load a report (F2)"
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert any("No plan yet" in n.message for n in app._notifications)


async def test_a_lora_plan_says_what_it_trains_in_the_explanation(make_app: AppFactory) -> None:
    report = load_probe_report(TRACED / "llama3-8b-seq8192.json")
    request = PlanRequest(model="llama3-8b", workload=Workload(tokens=10**9), trainable="lora:r=16",
                          reference=ReferenceRun(batch_size=16, lr=2e-4))
    app = make_app(request=request, report=report)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert app.plan is not None and app.plan.trainable is not None
        table(pilot).focus()
        await pilot.press("enter")
        await pilot.pause()
        text = str(app.screen.query_one(PlanExplanation).content)
        assert "trains: lora:r=16,targets=all-linear: 41,943,040 of 8,072,204,288 parameters" in text

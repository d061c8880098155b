"""Plan screen: sort and filter the candidates, re-plan on new limits, explain, export."""

from __future__ import annotations

import json
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static, TabbedContent

from planner.contracts.plan import Plan
from tui.messages import PlanExported, RequestEdited
from tui.screens.plan import PlanScreen
from tui.widgets.candidate_table import CandidateTable
from tui.widgets.plan_explanation import PlanExplanation
from tui.widgets.xy_plot import XYPlot
from tui_fixtures import AppFactory, Recorder, make_report, make_request


def table(pilot: Pilot) -> CandidateTable:
    return pilot.app.screen.query_one(CandidateTable)


def shown(pilot: Pilot) -> list:
    plan = pilot.app.plan
    return [plan.candidate(i) for i in table(pilot).shown_ids()]


async def set_input(pilot: Pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).value = text
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
        await pilot.press("s")  # cost -> deadline flag
        await pilot.press("r")
        assert (table(pilot).sort_key, table(pilot).reverse) == ("deadline", True)
        table(pilot).sort_by("hours")
        await pilot.pause()
        hours = [c.hours for c in shown(pilot)]
        assert hours == sorted(hours)
        await pilot.press("r")
        assert [c.hours for c in shown(pilot)] == sorted(hours, reverse=True)
        await pilot.click(CandidateTable, offset=(3, 0))  # the first header: the provider column
        await pilot.pause()
        providers = [c.provider for c in shown(pilot)]
        assert table(pilot).sort_key == "provider" and providers == sorted(providers)


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
        assert names == ["candidate", "Pareto frontier", "recommended"]
        assert len(plot.series[1].points) == len(app.plan.pareto)
        assert [(g.name, g.value) for g in plot.guides] == [("deadline", 5.0), ("budget", 40.0)]
        rendered = str(plot.render())
        assert "★" in rendered and "◆" in rendered and "┊" in rendered


async def test_export_json_and_markdown(make_app: AppFactory, recorder: Recorder, tmp_path: Path) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        for key, name in (("ctrl+s", "plan.json"), ("ctrl+r", "plan.md")):
            await pilot.press(key)
            await pilot.pause()
            app.screen.query_one("#path-input", Input).value = str(tmp_path / name)
            await pilot.press("enter")
            await pilot.pause()
        exported = [m.path for m in recorder.of(PlanExported)]
        assert exported == [(tmp_path / "plan.json").resolve(), (tmp_path / "plan.md").resolve()]
        assert Plan.model_validate(json.loads((tmp_path / "plan.json").read_text())) == app.plan
        assert (tmp_path / "plan.md").read_text().startswith("# batchfit plan: mlp")

        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#path-input", Input).value = str(tmp_path / "plan.txt")
        await pilot.press("enter")
        await pilot.pause()
        assert any("name the file .json or .md" in n.message for n in app._notifications)
        assert not (tmp_path / "plan.txt").exists()


async def test_without_a_report_the_plan_screen_says_what_is_missing(make_app: AppFactory) -> None:
    app = make_app(request=make_request())
    async with app.run_test(size=(100, 30)) as pilot:
        await app.switch_mode("plan")
        await pilot.pause()
        assert app.plan is None
        assert str(app.screen.query_one("#plan-headline", Static).content) == \
            "No plan yet: run a probe or load a report (F2)"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("No plan yet" in n.message for n in app._notifications)

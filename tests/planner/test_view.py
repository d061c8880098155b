"""The plan view: sections built once, the same in the table, the markdown and (tests/tui) the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.contracts import PlanRequest, ReferenceRun, Workload
from planner.plan.build import build_plan
from planner.report_file import load_probe_report
from planner.view import plan_sections, policy_title, render_markdown, render_table
from providers.catalog import load_catalog

REPORT = Path(__file__).parents[1] / "cli" / "data" / "gpt-tiny-cpu.json"


@pytest.fixture(scope="module")
def plan():
    request = PlanRequest(model="gpt-tiny", workload=Workload(tokens=2_000_000_000), budget_usd=500,
                          deadline_hours=24, reference=ReferenceRun(batch_size=64, lr=6e-4))
    return build_plan(request, load_probe_report(REPORT), load_catalog())


def test_every_section_shows_in_the_table_and_the_markdown(plan) -> None:
    table, markdown = render_table(plan, width=400), render_markdown(plan)
    for section in plan_sections(plan):
        assert section.title in table and f"## {section.title}" in markdown
        for row in section.rows:
            assert row.value in table and row.value in markdown


def test_a_candidate_shown_twice_names_the_section_that_showed_it(plan) -> None:
    sections = [s for s in plan_sections(plan) if s.kind in ("recommendation", "alternative")]
    titles = {s.title for s in sections}
    for s in sections:
        same = [r.value for r in s.rows if r.label == "candidate"]
        assert all(any(title in v for title in titles - {s.title}) for v in same)


def test_policy_titles_say_only_the_limits_that_were_set(plan) -> None:
    open_request = plan.request.model_copy(update={"deadline_hours": None, "budget_usd": None})
    assert policy_title("cheapest-within-deadline", plan.request) == "Cheapest within the deadline"
    assert policy_title("cheapest-within-deadline", open_request) == "Cheapest"
    assert policy_title("fastest-within-budget", open_request) == "Fastest"


def test_a_selected_candidate_comes_first(plan) -> None:
    other = next(c for c in plan.candidates if c.id != plan.recommendation.candidate_id)
    first = plan_sections(plan, chosen_id=other.id)[0]
    assert first.title == "Selected candidate" and other.instance in first.lead

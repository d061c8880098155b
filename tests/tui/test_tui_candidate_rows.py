"""Cell texts stay narrow enough for the 80-column table, and still say the number."""

from __future__ import annotations

import pytest

from planner.view import hours_text, money
from tui.candidate_rows import instance_text, lr_text
from tui.price_age import age_text


@pytest.mark.parametrize(("value", "text"), [
    (12_345.6, "$12.3k"), (1234.4, "$1,234"), (23.2, "$23.20"), (0.012, "$0.01"), (0.004, "<$0.01")])
def test_money(value: float, text: str) -> None:
    assert money(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (1234.0, "1,234"), (12.34, "12.3"), (1.234, "1.23"), (0.0123, "0.012"), (0.0001, "<.001")])
def test_hours(value: float, text: str) -> None:
    assert hours_text(value) == text


@pytest.mark.parametrize(("lr", "text"), [(0.00283, "0.00283"), (0.000707, "7.07e-4"), (3e-5, "3.00e-5")])
def test_learning_rate(lr: float, text: str) -> None:
    assert lr_text(lr) == text


def test_instance_names_keep_the_spot_suffix() -> None:
    assert instance_text("Standard_ND96asr_v4", "spot") == "Standard_N… spot"
    assert instance_text("Standard_ND96asr_v4", "spot", width=30) == "Standard_ND96asr_v4 spot"
    assert instance_text("p5.48xlarge", "on-demand") == "p5.48xlarge"


@pytest.mark.parametrize(("days", "text"), [(0, "today"), (45, "45 d"), (203, "6 mo")])
def test_price_age(days: int, text: str) -> None:
    assert age_text(days) == text


def test_layout_and_checkpointing_columns_sort_and_show_on_wide_terminals() -> None:
    from planner.plan.build import build_plan
    from tui.candidate_rows import COLUMN_BY_KEY, COLUMN_BY_LETTER, TableRow, groups
    from tui.widgets.candidate_table import NARROW_DROPS
    from tui_fixtures import make_catalog, make_report, make_request

    plan = build_plan(make_request(), make_report(), make_catalog())
    first = groups(plan, plan.candidates)[0]
    row = TableRow(first.lead, first)
    assert COLUMN_BY_KEY["layout"].cell(row) == first.lead.layout == "ddp"
    assert COLUMN_BY_KEY["checkpointing"].cell(row) == first.lead.checkpointing == "none"
    assert COLUMN_BY_LETTER["o"].key == "layout" and COLUMN_BY_LETTER["e"].key == "checkpointing"
    assert {"layout", "checkpointing"} <= set(NARROW_DROPS)  # wide terminals only; the Why tab has them always

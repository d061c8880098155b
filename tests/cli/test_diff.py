"""`batchfit diff old.json new.json`: recommendation, hours, dollars and why, as markdown for a PR comment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.main import main
from tests.cli.conftest import REPORT

PLAN = ["plan", "--from-probe", str(REPORT), "--tokens", "2000000000", "--ref-batch", "64", "--ref-lr", "6e-4"]
CHEAP = ("provider,instance,region,market,gpu,gpu_count,price_per_hour,source,as_of\n"
         "onprem,box-h100,lab,on-demand,H100-SXM-80GB,1,0.3,amortised over 4 years,2026-11-01\n")


def save_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, *extra: str) -> Path:
    code = main([*PLAN, *extra, "--json"])
    path = tmp_path / name
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    assert code in (0, 3)
    return path


@pytest.fixture
def plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    prices = tmp_path / "mine.csv"
    prices.write_text(CHEAP, encoding="utf-8")
    return save_plan(tmp_path, capsys, "old.json"), save_plan(tmp_path, capsys, "new.json", "--prices", str(prices))


def test_a_changed_recommendation_and_cost_are_shown_with_why(plans: tuple[Path, Path],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    old, new = plans
    assert main(["diff", str(old), str(new)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("## batchfit plan diff")
    assert "**Recommendation changed:**" in text and "onprem box-h100" in text
    assert "| cost (USD) |" in text and "-$" in text  # cheaper
    assert "### Why" in text and "price tables:" in text and "user as of 2026-11-01" in text


def test_json_carries_the_same_facts(plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, new = plans
    assert main(["diff", str(old), str(new), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["recommendation_changed"] is True
    assert document["new"]["provider"] == "onprem" and document["cost_delta_usd"] < 0
    assert {r["metric"] for r in document["rows"]} >= {"offer", "hours", "cost (USD)", "learning rate"}


def test_the_same_plan_twice_has_nothing_changed(plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = plans
    assert main(["diff", str(old), str(old)]) == 0
    text = capsys.readouterr().out
    assert "**Recommendation unchanged:**" in text and "nothing in the inputs changed" in text


def test_a_budget_breach_in_the_new_plan_exits_3(tmp_path: Path, plans: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    old, _ = plans
    breach = save_plan(tmp_path, capsys, "breach.json", "--budget", "0.0001")
    assert main(["diff", str(old), str(breach)]) == 3
    text = capsys.readouterr().out
    assert "recommends nothing" in text and "request budget_usd: None → 0.0001" in text


@pytest.mark.parametrize(("content", "needle"), [
    (None, "not found"), ("{", "is not JSON"), ('{"a": 1}', "not a batchfit plan"),
    ('{"schema_version": 99}', "plan schema_version 99"), ('{"schema_version": 1}', "malformed at"),
])
def test_bad_plan_files_are_one_line_errors(tmp_path: Path, plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                            content: str | None, needle: str) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    assert main(["diff", str(plans[0]), str(bad)]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1

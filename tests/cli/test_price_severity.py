"""Severity per price layer (issue 12, item 8): a bad row in the user's own CSV stops `quotes` and
`plan` with one line naming the file, the line and the fix (exit 2); the same row in a cached table
is dropped with a warning naming it, and the plan still runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from planner.cli.main import main
from providers.cache import CachedTable, write_table
from providers.schema import Offer

from .conftest import REPORT

REPO = Path(__file__).parents[2]
PLAN = ["--samples", "100000", "--ref-batch", "64", "--ref-lr", "6e-4"]
GOOD_ROW = "lambda,my_1x_gh200,any,on-demand,GH200-96GB,1,2.29,,,,,,60,my negotiated price,2026-09-25"


def _header() -> str:
    return (REPO / "pricing/offers.csv").read_text(encoding="utf-8").splitlines()[0]


def _error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("batchfit")]


@pytest.mark.parametrize("bad_row, needles", [
    (GOOD_ROW.replace(",2.29,", ",-2.29,"), ["line 3", "price_per_hour", "-2.29", "negative", "delete the row"]),
    (GOOD_ROW.replace(",2.29,", ",0,"), ["line 3", "price_per_hour", "zero", "delete the row"]),
    (GOOD_ROW.replace("GH200-96GB", "Z9-1GB"), ["line 3", "field gpu", "'Z9-1GB'", "pricing/gpus.csv"]),
])
@pytest.mark.parametrize("command", [["quotes"], ["plan", "--from-probe", str(REPORT), *PLAN]])
def test_a_bad_row_in_the_users_csv_is_one_line_exit_2(tmp_path, capsys, command, bad_row, needles):
    mine = tmp_path / "mine.csv"
    mine.write_text("\n".join([_header(), GOOD_ROW.replace("my_1x", "ok_1x"), bad_row]) + "\n", encoding="utf-8")
    assert main([*command, "--prices", str(mine)]) == 2
    lines = _error_lines(capsys)
    assert len(lines) == 1, lines
    for needle in [str(mine), *needles]:
        assert needle in lines[0], lines[0]


def _cached_offer(instance: str, **changes: object) -> dict:
    offer = Offer(provider="aws", instance=instance, region="us-east-1", market="on-demand", gpu="H100-SXM-80GB",
                  gpu_count=1, price_per_hour=5.0, source="test", as_of=dt.date(2026, 11, 1), origin="aws-api")
    return json.loads(offer.model_dump_json()) | changes


def test_a_bad_row_in_a_cached_table_is_dropped_with_a_warning_and_the_plan_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BATCHFIT_CACHE_DIR", str(tmp_path / "cache"))
    table = CachedTable(name="aws", origin="aws-api", fetched_at=dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc),
                        offers=[Offer.model_validate(_cached_offer("good.x"))])
    path = write_table(table)
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["offers"] += [_cached_offer("bad.negative", price_per_hour=-3.0), _cached_offer("bad.zero", price_per_hour=0),
                      _cached_offer("bad.gpu", gpu="Z9-1GB")]
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert main(["plan", "--from-probe", str(REPORT), *PLAN, "--json"]) in (0, 3)
    out, err = capsys.readouterr()
    plan = json.loads(out)
    assert "Traceback" not in err
    warnings = "\n".join(plan["warnings"]) + err
    assert f"{path} offer 2, field price_per_hour" in warnings and f"{path} offer 3, field price_per_hour" in warnings
    assert "bad.gpu" in warnings and "'Z9-1GB' is not in pricing/gpus.csv; row dropped" in warnings
    planned = {c["instance"] for c in plan["candidates"]}
    assert "good.x" in planned and not any(name.startswith("bad.") for name in planned)

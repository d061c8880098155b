"""How long the plan screen takes to show a re-plan, with 5,000 candidates: a Pilot benchmark.

    PYTHONPATH=. .venv/bin/python bench/tui_replan.py [--out bench/results/tui-replan.json]

A made-up catalog of 714 offers (7 global batches each: 4,998 candidates, about the most a
plan lists) and the tests' probe report. For each of ten budgets it times, in the running app:
build_plan alone; the re-plan the limits bar asks for, until the table and the chart are
drawn (the screen refreshed); a ready plan until drawn (the screen's own share); and a sort
and a filter of the table until drawn. Not a test:
timings depend on the machine (2 shared cores here), so it prints and saves numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "tui")]

from tui_fixtures import NOW, PRICES_AS_OF, make_report, make_request, offer  # noqa: E402

from planner.plan.build import build_plan  # noqa: E402
from providers.schema import (
    Catalog,  # noqa: E402
    PriceTable,  # noqa: E402
)
from tests.gpu_specs import A100, H100, T4  # noqa: E402
from tui.app import BatchfitApp  # noqa: E402
from tui.widgets.candidate_table import CandidateTable  # noqa: E402

SIZE = (160, 48)
BUDGETS = [20.0 + 3 * i for i in range(10)]


OFFERS = 714
"""x 7 global batches = 4,998 candidates: just under the 5,000 a plan lists whole (priors.MAX_LISTED_CANDIDATES)."""


def big_catalog() -> Catalog:
    """714 offers: 3 GPU types x 3 counts x 2 markets in up to 40 regions, prices spread by region."""
    offers = []
    for r in range(40):
        for gi, g in enumerate((H100, A100, T4)):
            for n in (1, 4, 8):
                for market in ("on-demand", "spot"):
                    price = (3.0, 2.0, 0.5)[gi] * n * (0.4 if market == "spot" else 1.0) * (1 + r / 100)
                    offers.append(offer(f"cloud{r % 4}", f"{g.name.split('-')[0].lower()}x{n}", g, n, price,
                                        market=market, region=f"region-{r:02d}"))
    offers = offers[:OFFERS]
    table = PriceTable(name="bench", origin="bundled", path="bench.csv", as_of=PRICES_AS_OF, rows=len(offers))
    return Catalog(gpus={g.name: g for g in (H100, A100, T4)}, offers=offers, tables=[table])


def ms(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples) * 1e3, 1), "max_ms": round(max(samples) * 1e3, 1)}


async def measure() -> dict[str, object]:
    catalog, report = big_catalog(), make_report()
    request = make_request(spot=True)
    plan = build_plan(request, report, catalog, now=NOW)
    app = BatchfitApp(request=request, report=report, catalog=catalog, presets=["mlp"], clock=lambda: NOW)
    build, replan, shown, filtered, sort = [], [], [], [], []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(CandidateTable)
        for budget in BUDGETS:
            changed = request.model_copy(update={"budget_usd": budget})
            t0 = time.perf_counter()
            build_plan(changed, report, catalog, now=NOW)
            build.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            app.request = changed  # what the limits bar's message does, after its debounce
            app.screen.refresh()
            await pilot.pause()  # the screen is drawn before this returns
            replan.append(time.perf_counter() - t0)

            ready = build_plan(changed, report, catalog, now=NOW)
            t0 = time.perf_counter()
            app.plan = ready  # the screen's share alone: table, headline, count, drawn
            app.screen.refresh()
            await pilot.pause()
            shown.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            table.sort_by("hours" if len(sort) % 2 else "cost")
            await pilot.pause()
            sort.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            table.filter_rows(table.row_filter.__class__(query="h100 spot" if len(filtered) % 2 else ""))
            await pilot.pause()
            filtered.append(time.perf_counter() - t0)
    return {
        "what": "the plan screen after a new budget, sort or filter, every candidate listed",
        "candidates": len(plan.candidates),
        "table_rows_after_grouping": len(table.rows),
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "build_plan": ms(build),
        "replan_to_drawn": ms(replan),
        "plan_to_drawn": ms(shown),
        "sort_to_drawn": ms(sort),
        "filter_to_drawn": ms(filtered),
        "debounce_ms": 50,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "load_average_1min": round(os.getloadavg()[0], 1),
        "date": dt.date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = parser.parse_args()
    result = asyncio.run(measure())
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

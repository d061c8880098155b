"""How planning time grows with the catalog: build_plan over 1,000 to 10,000 offers x 20 batch sizes.

    .venv/bin/python bench/plan_scale.py --out bench/results/plan-scale-cpu.json

The catalogs are the bundled offers repeated with renamed instances and prices scattered by
+-20%, so every GPU count and market of the real table appears. The reference batch range is
widened to 20 powers of two. Reported: seconds per plan (median of 5), candidates evaluated,
and time per 1,000 offers relative to the smallest catalog (1.0 = linear).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path

from planner.plan import priors
from planner.contracts import NoiseScale, PlanRequest, ReferenceRun, Workload
from planner.plan.build import build_plan
from planner.report_file import load_probe_report
from providers.catalog import load_catalog

REPORT = Path(__file__).resolve().parent.parent / "tests" / "cli" / "data" / "gpt-tiny-cpu.json"
SIZES = (1_000, 2_000, 5_000, 10_000)
REPEATS = 5


def scaled_catalog(n_offers: int, seed: int = 0):
    catalog = load_catalog()
    rng = random.Random(seed)
    offers = [o.model_copy(update={"instance": f"{o.instance}-{k}", "price_per_hour": o.price_per_hour * rng.uniform(0.8, 1.2)})
              for k in range(n_offers // len(catalog.offers) + 1) for o in catalog.offers][:n_offers]
    return catalog.model_copy(update={"offers": offers})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    priors.BATCH_RANGE_ABOVE = 2**16  # B0/8 .. B0 x 65536: 20 powers of two
    report = load_probe_report(REPORT)
    report = report.model_copy(update={"noise_scale": NoiseScale(b_simple=2000, low=1500, high=2600, b_small=4,
                                                                 b_big=32, steps=20)})
    request = PlanRequest(model="gpt-tiny", workload=Workload(tokens=2 * 10**10), spot=True, budget_usd=1000,
                          deadline_hours=24, reference=ReferenceRun(batch_size=64, lr=6e-4))
    rows = []
    for size in SIZES:
        catalog = scaled_catalog(size)
        times = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            plan = build_plan(request, report, catalog)
            times.append(time.perf_counter() - began)
        rows.append({"offers": size, "candidates_evaluated": plan.candidates_evaluated,
                     "candidates_listed": len(plan.candidates), "seconds_median": statistics.median(times)})
    base = rows[0]["seconds_median"] / rows[0]["offers"]
    print(f"{'offers':>8} {'evaluated':>10} {'listed':>7} {'seconds':>8} {'per-offer ratio':>16}")
    for row in rows:
        row["per_offer_ratio_to_smallest"] = row["seconds_median"] / row["offers"] / base
        print(f"{row['offers']:>8,} {row['candidates_evaluated']:>10,} {row['candidates_listed']:>7,} "
              f"{row['seconds_median']:>8.3f} {row['per_offer_ratio_to_smallest']:>16.2f}")
    if args.out:
        args.out.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                        "python": platform.python_version(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

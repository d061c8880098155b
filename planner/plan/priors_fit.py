"""`pricing/priors_fit.json`: the fitted priors, with every row they came from and their error.

`build_fit` is deterministic: the same throughput tables give the same JSON, which a test
checks against the committed file. Regenerate with `python -m planner.plan.priors_fit --write`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.plan import calibration as cal
from planner.plan.throughput_data import ThroughputData, load_throughput
from providers.rules import pricing_dir

PRIORS_FIT_SCHEMA_VERSION = 1
PRIORS_FIT_FILE = "priors_fit.json"


def _r(x: float) -> float:
    """Six significant digits: stable across platforms, far finer than the data."""
    return float(f"{x:.6g}")


def _summary(errors: list[float]) -> dict[str, Any]:
    absolute = [abs(e) for e in errors]
    return {"ratios": len(errors), "median_abs_error": _r(statistics.median(absolute)), "worst_abs_error": _r(max(absolute))}


def _by(errors: list[cal.RatioError], key: Callable[[cal.RatioError], str]) -> dict[str, Any]:
    groups: dict[str, list[float]] = {}
    for e in errors:
        groups.setdefault(key(e), []).append(e.error)
    return {k: _summary(v) for k, v in sorted(groups.items())}


def _efficiency_tables(data: ThroughputData, model: cal.EfficiencyModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """The eager prior at every GPU of gpus.csv, and per generation (its GPUs' median ridge point)."""
    by_gpu: dict[str, Any] = {}
    ridges: dict[str, list[float]] = {}
    for name, gpu in sorted(data.gpus.items()):
        ridge = gpu.peak_tflops("bf16") * 1e12 / (gpu.bandwidth_gbs * 1e9)
        ridges.setdefault(gpu.generation, []).append(ridge)
        by_gpu[name] = {"generation": gpu.generation, "ridge_flop_per_byte": _r(ridge),
                        **{op: _r(math.exp(model.log_efficiency(op, "eager", ridge))) for op in sorted(model.a)}}
    by_generation = {
        gen: {"precision": "bf16/fp16", "ridge_flop_per_byte": _r(statistics.median(r)),
              **{op: _r(math.exp(model.log_efficiency(op, "eager", statistics.median(r)))) for op in sorted(model.a)}}
        for gen, r in sorted(ridges.items())
    }
    return by_gpu, by_generation


def build_fit(data: ThroughputData) -> dict[str, Any]:
    model = cal.fit_efficiency(data)
    host, host_rows = cal.fit_host_floor(data)
    rows = cal.fit_rows(data)
    loso = cal.leave_one_source_out(data)
    by_gpu, by_generation = _efficiency_tables(data, model)
    return {
        "schema_version": PRIORS_FIT_SCHEMA_VERSION,
        "generated_by": "python -m planner.plan.priors_fit --write (planner/plan/calibration.py)",
        "inputs": {"throughput": "throughput.csv", "shapes": "throughput_shapes.csv", "gpus": "gpus.csv"},
        "rows_as_of": {"oldest": min(r.as_of for r in rows).isoformat(), "newest": max(r.as_of for r in rows).isoformat()},
        "model": "ln e = a[op] + b[class] * ln(R / R0) + ln h[source]; R = peak / bandwidth (FLOP/byte)",
        "ridge_reference_flop_per_byte": cal.RIDGE_REFERENCE,
        "efficiency_at_reference": {op: _r(math.exp(v)) for op, v in sorted(model.a.items())},
        "ridge_slope": {k: _r(v) for k, v in sorted(model.b.items())},
        "ridge_slope_unclamped": {k: _r(v) for k, v in sorted(model.b_unclamped.items())},
        "harness_factor": {k: _r(math.exp(v)) for k, v in sorted(model.h.items())},
        "host_s_per_param_tensor": _r(host),
        "fitted_rows": len(rows),
        "sources": sorted({r.source for r in rows}),
        "rows": [{"line": r.line, "id": r.row_id, "op": cal.op_class(data, r), "class": cal.slope_class(r),
                  "implied_efficiency": _r(cal.implied_efficiency(data, r)),
                  "fitted_efficiency": _r(math.exp(model.log_efficiency(cal.op_class(data, r), cal.slope_class(r),
                                                                        cal.ridge(data, r), r.source)))}
                 for r in rows],
        "host_rows": [{"line": r.line, "id": r.row_id} for r in host_rows],
        "eager_efficiency_by_gpu": by_gpu,
        "eager_efficiency_by_generation": by_generation,
        "cross_gpu_error": {
            "method": "leave one source out; ratio to the source's reference GPU, its harness anchored there",
            **_summary([e.error for e in loso]),
            "by_generation": _by(loso, lambda e: data.gpus[e.gpu].generation),
            "by_family": _by(loso, lambda e: data.shapes[e.model].family),
            "by_gpu": _by(loso, lambda e: e.gpu),
            "by_model": _by(loso, lambda e: e.model),
            "pairs": [{"source": e.source, "model": e.model, "gpu": e.gpu, "reference_gpu": e.reference_gpu,
                        "published": _r(e.published), "predicted": _r(e.predicted), "error": _r(e.error)} for e in loso],
        },
    }


def render(fit: dict[str, Any]) -> str:
    return json.dumps(fit, indent=1, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Refit the priors on pricing/throughput.csv")
    parser.add_argument("--write", action="store_true", help=f"write pricing/{PRIORS_FIT_FILE} (else compare with it)")
    args = parser.parse_args()
    text = render(build_fit(load_throughput()))
    path = Path(pricing_dir()) / PRIORS_FIT_FILE
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    same = path.exists() and path.read_text(encoding="utf-8") == text
    print(f"{PRIORS_FIT_FILE} {'equals' if same else 'differs from'} a fresh fit")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

"""bench/cross_gpu.py: the committed table is what the bench prints from the committed data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import cross_gpu  # noqa: E402

from planner.plan.priors_fit import build_fit  # noqa: E402
from planner.plan.throughput_data import load_throughput  # noqa: E402


def test_committed_table_is_current():
    data = load_throughput()
    text = cross_gpu.markdown(data, cross_gpu.row_table(data), build_fit(data), cross_gpu.slope_sensitivity(data))
    committed = (ROOT / "bench" / "results" / "cross-gpu.md").read_text(encoding="utf-8")
    assert text == committed, "rerun: python bench/cross_gpu.py --out bench/results/cross-gpu"


def test_every_row_gets_a_planner_prediction_and_the_fitted_rows_an_error():
    data = load_throughput()
    rows = cross_gpu.row_table(data)
    assert len(rows) == len(data.rows)
    assert all(r["planner"] > 0 for r in rows)
    assert {r["use"] for r in rows} == {"fit", "host floor", "not fitted (fp32)"}
    assert all((r["fitted_error"] is None) == (r["use"] != "fit") for r in rows)


@pytest.mark.slow
def test_committed_shapes_equal_a_fresh_trace():
    import trace_shapes  # torch: the FLOP counter traces the models on the meta device

    # the smaller shapes of every kind (the 1B-13B decoders add minutes, not coverage)
    only = {"gpt2-small", "bert-base", "resnet50", "vit-b16", "mpt-125m-s2048", "bert-large-layer-s128",
            "gpt2-medium-block-s512"}
    lines = trace_shapes.OUT.read_text(encoding="utf-8").splitlines(keepends=True)
    committed = lines[0] + "".join(line for line in lines[1:] if line.split(",", 1)[0] in only)
    assert trace_shapes.trace(only) == committed, (
        "FLOP counting changed: run bench/trace_shapes.py, python -m planner.plan.priors_fit --write, "
        "python bench/cross_gpu.py --out bench/results/cross-gpu")

"""The cross-GPU prior's error band widens the hours and dollars ranges of prior-based step times only."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from planner.contracts import PlanRequest
from planner.plan import fitted_priors
from planner.plan.build import build_plan
from planner.plan.candidates import Evaluation, widened_by_step_error
from providers.schema import Catalog


def _evaluation(hours: list[float], cost: list[float], errors: list[float],
                hours_range: list[list[float]] | None) -> Evaluation:
    h, c = np.array(hours), np.array(cost)
    ones = np.ones(len(h), dtype=bool)
    shapes = [[SimpleNamespace(step_error=e) for e in errors]]  # only the error band is read
    return Evaluation(offers=[], shapes=shapes, offer_index=np.zeros(len(h), dtype=int),  # type: ignore[arg-type]
                      group=np.zeros(len(h), dtype=int), shape_index=np.arange(len(h)), hours=h, cost=c,
                      meets_deadline=ones, meets_budget=ones, excluded=[], samples=np.full(len(h), 100.0),
                      requested_samples=100.0, meets_data=ones, samples_cap=None,
                      hours_range=None if hours_range is None else np.array(hours_range),
                      cost_range=None if hours_range is None else 2 * np.array(hours_range))


def test_the_band_widens_a_prior_row_and_leaves_a_measured_one():
    # row 0: prior, ±10%, B_noise range 8..12 h -> 7.2..13.2 h, $16..$24 -> $14.4..$26.4; row 1: measured
    ev = widened_by_step_error(_evaluation([10, 4], [20, 8], [0.1, 0.0], [[8, 12], [4, 4]]))
    assert np.allclose(ev.hours_range, [[7.2, 13.2], [4, 4]])
    assert np.allclose(ev.cost_range, [[14.4, 26.4], [8, 8]])
    assert ev.hours.tolist() == [10, 4] and ev.meets_deadline.all()  # the central figures stay


def test_without_a_noise_range_the_band_starts_from_the_central_figure():
    ev = widened_by_step_error(_evaluation([10], [20], [0.25], None))
    assert np.allclose(ev.hours_range, [[7.5, 12.5]])
    assert np.allclose(ev.cost_range, [[15, 25]])
    measured = _evaluation([10], [20], [0.0], None)
    assert widened_by_step_error(measured) is measured  # nothing to widen: no range invented


def test_a_cpu_probe_plan_widens_every_candidate_by_the_bench_error_and_says_so(request_: PlanRequest, report,
                                                                                 catalog: Catalog):
    # a CPU probe: every step time is the cross-GPU prior's; a fixed B_noise: no noise range
    plan = build_plan(PlanRequest.model_validate(request_.model_dump() | {"noise_scale": 64.0}), report, catalog)
    band = fitted_priors.fitted().cross_gpu_median
    assert plan.candidates and all(c.step_time_provenance in ("prior", "calibrated") for c in plan.candidates)
    for c in plan.candidates:
        assert c.hours_range == pytest.approx((c.hours * (1 - band), c.hours * (1 + band)))
        assert c.cost_range == pytest.approx((c.cost_usd * (1 - band), c.cost_usd * (1 + band)))
    assert any(f"widened by ±{band:.0%}" in a and "leave-one-source-out" in a for a in plan.assumptions)

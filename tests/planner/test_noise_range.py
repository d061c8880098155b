"""B_noise as a range, the robust pick at both ends, the data-inflation flag and the data cap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.contracts import NoiseScale, PlanRequest, ProbeReport
from planner.contracts.probe import PreconditionedNoise
from planner.plan.build import build_plan
from planner.plan.candidates import Evaluation, judged_at_both_ends
from planner.plan.choose import Columns, explain_infeasible, pareto_front, recommend
from planner.plan.noise_range import KAPLAN_ALPHA_B, matching_read, noise_range
from planner.view import _limits_text, render_markdown, render_table
from providers.schema import Catalog

READ = NoiseScale(b_simple=100, low=80, high=125, b_small=4, b_big=16, steps=30, trained_steps=200, train_loss=3.0)
RAW = matching_read(READ, "sgd")


def with_noise(report: ProbeReport, noise: NoiseScale) -> ProbeReport:
    return ProbeReport.model_validate(report.model_dump() | {"noise_scale": noise.model_dump()})


def request_with(request: PlanRequest, **fields: object) -> PlanRequest:
    return PlanRequest.model_validate(request.model_dump() | fields)


def test_a_read_above_the_target_loss_is_extrapolated_by_kaplans_exponent():
    span = noise_range(RAW, target_loss=2.5)
    growth = (3.0 / 2.5) ** (1 / KAPLAN_ALPHA_B)
    assert growth == pytest.approx(2.3827, abs=1e-4)  # 1.2^(1/0.21), by hand
    assert span.low == 80  # the band's low end: the read itself may be high
    assert span.high == pytest.approx(100 * growth * 1.25)  # 297.8: the band's high/central ratio carried up
    assert span.central == pytest.approx(math.sqrt(100 * 100 * growth))  # 154.4
    assert "Kaplan et al. 2020" in span.explanation and span.warnings


def test_without_a_target_or_below_it_the_range_is_the_band():
    for target in (None, 3.2):
        span = noise_range(RAW, target)
        assert (span.low, span.central, span.high) == (80, 100, 125)
        assert not span.warnings


def _evaluation(hours: list[float], cost: list[float], samples: list[float]) -> Evaluation:
    h, c, s = np.array(hours), np.array(cost), np.array(samples)
    ones = np.ones(len(h), dtype=bool)
    return Evaluation(offers=[], shapes=[], offer_index=np.zeros(len(h), dtype=int), group=np.zeros(len(h), dtype=int),
                      shape_index=np.arange(len(h)), hours=h, cost=c, meets_deadline=ones, meets_budget=ones,
                      excluded=[], samples=s, requested_samples=100.0, meets_data=ones, samples_cap=None)


def test_the_pick_is_the_best_at_the_central_value_among_those_feasible_at_both_ends(request_):
    # candidate 0 is cheapest at the central B_noise but misses the 10 h deadline at the low end;
    # candidate 1 costs more and meets it everywhere; candidate 2 is fast but over the $50 budget at the high end.
    central = _evaluation([8, 9, 2], [20, 30, 45], [100, 100, 100])
    low = _evaluation([12, 9.5, 2], [25, 31, 40], [100, 100, 100])
    high = _evaluation([6, 8, 1.5], [18, 29, 60], [100, 100, 100])
    request = request_with(request_, deadline_hours=10.0, budget_usd=50.0)
    ev = judged_at_both_ends(central, low, high, request)
    assert ev.meets_deadline.tolist() == [False, True, True]
    assert ev.meets_budget.tolist() == [True, True, False]
    assert ev.hours_range is not None and ev.hours_range[0].tolist() == [6, 12]
    cols = Columns(ev.hours, ev.cost, ev.meets_deadline, ev.meets_budget, ev.meets_data)
    rec, _ = recommend(cols, pareto_front(ev.hours, ev.cost), 50.0, 10.0)
    assert rec is not None and rec.candidate_id == 1


def test_a_plan_carries_hours_and_dollar_ranges_and_says_how(request_, report, catalog: Catalog):
    sgd = request_.reference.model_dump() | {"optimizer": "sgd"}
    plan = build_plan(request_with(request_, target_loss=2.5, reference=sgd), with_noise(report, READ), catalog)
    assert plan.statistical_efficiency.b_noise == pytest.approx(noise_range(RAW, 2.5).central)
    assert plan.statistical_efficiency.b_noise_range == pytest.approx((80, noise_range(RAW, 2.5).high))
    for c in plan.candidates:
        assert c.hours_range is not None and c.cost_range is not None
        assert c.hours_range[0] <= c.hours_range[1]
    assert any("feasible at both ends" in a for a in plan.assumptions)
    assert any("lower bound" in w for w in plan.warnings)


def test_inflated_data_is_flagged_in_every_output(request_, report, catalog: Catalog):
    # B0 = 64, N0 = 1e6, B_noise = 16: E(B) = E_min (1 + B/16), E_min = 1e6/5, so B = 512 needs 6.6e6 samples
    request = request_with(request_, noise_scale=16.0)
    plan = build_plan(request, report, catalog)
    big = [c for c in plan.candidates if c.global_batch == 512]
    assert big and all(c.data_ratio == pytest.approx(c.samples / 1e6) for c in big)
    assert big[0].data_ratio == pytest.approx(2e5 * (1 + 512 / 16) / 1e6, rel=1e-3)  # 6.6x
    assert all(any("the requested samples" in n for n in c.notes) for c in big)
    small = [c for c in plan.candidates if c.data_ratio is not None and c.data_ratio <= 1.2]
    assert small and not any(any("requested samples" in n for n in c.notes) for c in small)
    # the frontier tables (terminal and markdown) carry the flag in their limits column
    assert _limits_text(big[0]) == "ok, data ×6.6"
    assert '"data_ratio"' in plan.model_dump_json()
    assert "data_ratio" in render_markdown(plan) or "more than 1.2x the requested samples" in render_markdown(plan)
    assert "| limits |" in render_markdown(plan) and "limits" in render_table(plan)


def test_far_fewer_samples_than_the_reference_run_are_flagged_with_the_early_read_caveat(request_, report, catalog):
    # B0 = 64, N0 = 1e6, B_noise = 16: E(B)/N0 = (1 + B/16) / 5, 0.3 at B = 8, 0.6 at B = 32
    plan = build_plan(request_with(request_, noise_scale=16.0), report, catalog)
    by_batch = {c.global_batch: c for c in plan.candidates}
    assert 8 in by_batch and by_batch[8].data_ratio == pytest.approx(0.3, rel=1e-3)
    note = next(n for n in by_batch[8].notes if "reference run's samples" in n)
    assert note.startswith("trains on 0.3x the reference run's samples (300,000 vs 1,000,000)")
    assert "early in training" in note and "--target-loss" in note
    flagged = [c for c in plan.candidates if any("reference run's samples" in n for n in c.notes)]
    assert flagged and all(c.data_ratio is not None and c.data_ratio < 0.5 for c in flagged)
    assert any(c.data_ratio is not None and 0.5 <= c.data_ratio <= 1.2 for c in plan.candidates)


def test_a_data_cap_makes_larger_candidates_infeasible_with_the_reason(request_, report, catalog: Catalog):
    request = request_with(request_, noise_scale=16.0, max_samples=2_000_000)
    plan = build_plan(request, report, catalog)
    assert plan.recommendation is not None
    chosen = plan.candidate(plan.recommendation.candidate_id)
    assert chosen.samples <= 2_000_000 and chosen.meets_data
    over = [c for c in plan.candidates if c.samples > 2_000_000]
    assert over and all(not c.meets_data and any("that exist" in n for n in c.notes) for c in over)


def test_max_epochs_needs_the_dataset_size_and_caps_at_their_product(request_):
    with pytest.raises(ValueError, match="dataset_size"):
        request_with(request_, max_epochs=2.0)
    workload = request_.workload.model_dump() | {"dataset_size": 400_000}
    request = request_with(request_, workload=workload, max_epochs=2.0, max_samples=1e9)
    assert request.samples_cap() == 800_000


def test_nothing_fits_the_data_says_so():
    ev = _evaluation([1, 2], [1, 2], [10, 20])
    cols = Columns(ev.hours, ev.cost, ev.meets_deadline, ev.meets_budget, np.zeros(2, dtype=bool))
    assert recommend(cols, pareto_front(ev.hours, ev.cost), None, None) == (None, [])
    assert "data" in explain_infeasible(cols, None, None, str)[0]


def test_adam_runs_use_the_preconditioned_read_and_say_so():
    pre = PreconditionedNoise(b_simple=150, low=120, high=190, steps=30)
    noise = NoiseScale.model_validate(READ.model_dump() | {"preconditioned": pre.model_dump()})
    adam = matching_read(noise, "adamw")
    assert (adam.b_simple, adam.low, adam.high) == (150, 120, 190) and "preconditioned" in adam.kind
    assert matching_read(noise, "sgd").b_simple == 100
    bandless = NoiseScale.model_validate(noise.model_dump() | {"preconditioned": {"b_simple": 150, "steps": 5}})
    assert matching_read(bandless, "adamw").b_simple == 100  # no band: the raw read
    assert "raw gradients" in noise_range(matching_read(noise, "sgd"), None).explanation

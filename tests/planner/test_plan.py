import math

import pytest

from planner.plan import priors
from planner.contracts import Plan, ProbeReport
from planner.errors import BadInput
from planner.plan.build import build_plan

from .conftest import H100


def test_cost_arithmetic_on_a_hand_checked_candidate(request_, report, catalog):
    plan = build_plan(request_, report, catalog)
    c = next(c for c in plan.candidates if c.provider == "lambda" and c.global_batch == 64)
    compute = 6e11 * 64 / (989e12 * priors.compute_efficiency(H100, "bf16"))  # FLOPs x B / (peak x prior)
    fixed = 1e8 * 32 / (3350e9 * 0.80)  # optimizer bytes / bandwidth
    assert compute + fixed > priors.STEP_OVERHEAD_S  # device-bound: the host keeps up
    assert c.step_time_s == pytest.approx(compute + fixed)
    assert c.steps == 15625  # samples fixed: 1e6 / 64
    assert c.hours == pytest.approx(15625 * (compute + fixed) / 3600)
    assert c.cost_usd == pytest.approx(math.ceil(c.hours * 3600) / 3600 * 3.29)  # billed per second
    assert (c.per_gpu_batch, c.accumulation) == (64, 1)
    assert c.lr.lr == pytest.approx(1e-3)


def test_accumulation_when_the_global_batch_exceeds_memory(request_, report, catalog):
    plan = build_plan(request_, report, catalog)
    t4 = [c for c in plan.candidates if c.gpu == "T4-16GB"]
    big = next(c for c in t4 if c.global_batch == 256)
    # 22 samples fit on a T4: 256 = 16 x 16 accumulation (the smallest even split at or under 22)
    assert (big.per_gpu_batch, big.accumulation) == (16, 16)
    assert any("accumulates" in n for n in big.notes)


def test_spot_only_when_allowed(request_, report, catalog):
    assert all(c.market == "on-demand" for c in build_plan(request_, report, catalog).candidates)
    spot = build_plan(request_.model_copy(update={"spot": True}), report, catalog)
    assert any(c.market == "spot" for c in spot.candidates)


def test_max_gpus_excludes_with_reason(request_, report, catalog):
    plan = build_plan(request_.model_copy(update={"max_gpus": 4}), report, catalog)
    assert all(c.gpu_count <= 4 for c in plan.candidates)
    assert any("exceed --max-gpus 4" in e.reason for e in plan.excluded)


def test_model_too_big_for_a_gpu_is_excluded_with_reason(request_, report, catalog):
    huge = report.model_copy(update={"memory_fit": None, "points": [
        p.model_copy(update={"peak_memory_bytes": p.peak_memory_bytes * 10 if p.peak_memory_bytes else None})
        for p in report.points]})
    plan = build_plan(request_, huge, catalog)
    reasons = {e.offer.split()[1]: e.reason for e in plan.excluded}
    assert "batch 1 needs 25.0 GB" in reasons["g4dn.xlarge"]


def test_recommendation_and_frontier(request_, report, catalog):
    plan = build_plan(request_.model_copy(update={"budget_usd": 100.0, "deadline_hours": 10.0}), report, catalog)
    assert plan.recommendation is not None
    rec = plan.candidate(plan.recommendation.candidate_id)
    assert rec.meets_budget and rec.meets_deadline
    assert rec.cost_usd == min(c.cost_usd for c in plan.candidates if c.meets_budget and c.meets_deadline)
    front = [plan.candidate(i) for i in plan.pareto]
    assert [c.hours for c in front] == sorted(c.hours for c in front)
    assert all(a.cost_usd > b.cost_usd for a, b in zip(front, front[1:]))


def test_infeasible_plan_names_the_limit(request_, report, catalog):
    plan = build_plan(request_.model_copy(update={"budget_usd": 0.01}), report, catalog)
    assert plan.recommendation is None
    assert plan.infeasible and plan.infeasible[0].startswith("budget:")


def test_unknown_provider_is_bad_input(request_, report, catalog):
    with pytest.raises(BadInput, match="unknown provider nosuch; choose from aws, gcp, lambda"):
        build_plan(request_.model_copy(update={"providers": ["nosuch"]}), report, catalog)


def test_noise_scale_changes_steps_and_marks_far_beyond_critical(request_, report, catalog):
    from planner.contracts import NoiseScale

    noisy = report.model_copy(update={"noise_scale": NoiseScale(b_simple=64, low=50, high=80, b_small=4, b_big=16, steps=10)})
    plan = build_plan(request_, noisy, catalog)
    assert plan.statistical_efficiency.mode == "noise-scale"
    c = next(c for c in plan.candidates if c.provider == "lambda" and c.global_batch == 4096)
    assert c.steps == pytest.approx(5e5 / 64 * (1 + 64 / 4096), abs=1)  # S_min (1 + B_noise/B)
    assert any("far beyond the critical batch" in n for n in c.notes)


def test_plan_and_report_json_round_trip_exactly(request_, report, catalog):
    plan = build_plan(request_.model_copy(update={"spot": True, "budget_usd": 50.0}), report, catalog)
    assert Plan.model_validate_json(plan.model_dump_json()) == plan
    assert ProbeReport.model_validate_json(report.model_dump_json()) == report


def test_local_gpu_probe_uses_measured_step_times(request_, report, catalog):
    from planner.contracts import DeviceInfo

    device = DeviceInfo(kind="cuda", name="NVIDIA H100 80GB HBM3", memory_bytes=H100.memory_bytes, memory_source="device")
    plan = build_plan(request_, report.model_copy(update={"device": device}), catalog)
    local = [c for c in plan.candidates if c.provider == "lambda"]
    assert {c.step_time_provenance for c in local} <= {"measured", "fitted"}
    assert any(a.startswith("compute efficiency calibrated on H100-SXM-80GB") for a in plan.assumptions)
    assert priors.MEMORY_MARGIN > 0


def test_batch_range_is_narrow_while_samples_are_fixed(request_, report, catalog):
    fixed = build_plan(request_, report, catalog)
    assert max(c.global_batch for c in fixed.candidates) == 64 * priors.BATCH_RANGE_ABOVE_SAMPLES_FIXED
    assert min(c.global_batch for c in fixed.candidates) == 64 // priors.BATCH_RANGE_BELOW


def test_noise_sensitivity_without_a_measured_noise_scale(request_, report, catalog):
    plan = build_plan(request_, report, catalog)
    rows = plan.noise_sensitivity
    assert [r.b_noise for r in rows] == list(priors.NOISE_SCALE_SWEEP)
    batches = [r.global_batch for r in rows if r.global_batch]
    assert batches == sorted(batches)  # a noisier gradient makes a larger batch worth its samples
    assert batches[0] < batches[-1]


def test_no_sensitivity_sweep_once_the_noise_scale_is_measured(request_, report, catalog):
    from planner.contracts import NoiseScale

    noisy = report.model_copy(update={"noise_scale": NoiseScale(b_simple=64, low=50, high=80, b_small=4, b_big=16, steps=10)})
    assert build_plan(request_, noisy, catalog).noise_sensitivity == []


def test_scaling_shows_where_adding_gpus_stops_paying(request_, report, catalog):
    h100_only = catalog.model_copy(update={"offers": [o for o in catalog.offers if o.gpu == H100.name]})
    plan = build_plan(request_, report, h100_only)
    rows = plan.scaling
    assert [r.gpu_count for r in rows] == [1, 8]
    one, eight = rows
    assert one.speedup == 1.0 and one.efficiency == 1.0
    assert eight.speedup == pytest.approx(one.step_time_s / eight.step_time_s)
    assert eight.efficiency == pytest.approx(eight.speedup / 8)
    assert eight.pays == (eight.efficiency >= priors.SCALING_EFFICIENCY_PAYS)
    assert 0 < eight.allreduce_share < 1


def test_large_catalogs_list_the_frontier_and_the_best_of_each_kind(request_, report, catalog, monkeypatch):
    monkeypatch.setattr(priors, "MAX_LISTED_CANDIDATES", 10)
    plan = build_plan(request_.model_copy(update={"spot": True}), report, catalog)
    listed = {c.id for c in plan.candidates}
    assert plan.candidates_evaluated > len(listed)
    assert set(plan.pareto) <= listed
    assert plan.recommendation is not None and plan.recommendation.candidate_id in listed
    kinds = {(c.provider, c.gpu, c.gpu_count, c.market) for c in plan.candidates}
    assert len(kinds) == len({(o.provider, o.gpu, o.gpu_count, o.market) for o in catalog.offers})
    assert "evaluated" in plan.listing


def test_spot_overhead_and_billing_granularity_in_the_cost_columns(request_, report, catalog):
    from providers.schema import Offer

    hourly = Offer(provider="aws", instance="hourly", region="us-east-1", market="on-demand", gpu=H100.name,
                   gpu_count=1, price_per_hour=2.0, billing_seconds=3600, source="t", as_of=catalog.offers[0].as_of)
    spot = hourly.model_copy(update={"instance": "spot", "market": "spot", "billing_seconds": 1})
    plan = build_plan(request_.model_copy(update={"spot": True}), report, catalog.model_copy(update={"offers": [hourly, spot]}))
    by = {(c.instance, c.global_batch): c for c in plan.candidates}
    on_demand, interrupted = by[("hourly", 64)], by[("spot", 64)]
    run_s = on_demand.steps * on_demand.step_time_s
    assert on_demand.hours == pytest.approx(run_s / 3600)
    assert on_demand.cost_usd == pytest.approx(math.ceil(run_s / 3600) * 2.0)  # billed by the started hour
    assert interrupted.hours == pytest.approx(run_s * (1 + priors.SPOT_INTERRUPTION_OVERHEAD) / 3600)
    assert interrupted.cost_usd == pytest.approx(math.ceil(run_s * (1 + priors.SPOT_INTERRUPTION_OVERHEAD)) / 3600 * 2.0)


def test_a_noise_scale_given_in_the_request_overrides_the_probes(request_, report, catalog):
    from planner.contracts import NoiseScale

    early = report.model_copy(update={"noise_scale": NoiseScale(b_simple=4, low=3, high=6, b_small=4, b_big=16, steps=30)})
    probe_only = build_plan(request_, early, catalog)
    assert probe_only.statistical_efficiency.b_noise == 4
    assert any("near the start of training" in w for w in probe_only.warnings)
    given = build_plan(request_.model_copy(update={"noise_scale": 2000.0}), early, catalog)
    assert given.statistical_efficiency.b_noise == 2000.0
    assert not any("near the start of training" in w for w in given.warnings)


def test_a_noise_scale_read_after_training_says_where(request_, report, catalog):
    from planner.contracts import NoiseScale

    trained = NoiseScale(b_simple=900, low=800, high=1000, b_small=64, b_big=256, steps=30, trained_steps=400,
                         train_loss=2.1, lr=4e-3)
    plan = build_plan(request_, report.model_copy(update={"noise_scale": trained}), catalog)
    assert plan.statistical_efficiency.b_noise == 900
    assert any("measured after 400 training steps, at training loss 2.1;" in w for w in plan.warnings)
    assert not any("near the start of training" in w for w in plan.warnings)


def test_a_noise_scale_without_a_band_is_not_planned_on(request_, report, catalog):
    from planner.contracts import NoiseScale

    point_read = NoiseScale(b_simple=900, band="insufficient", b_small=64, b_big=256, steps=12)
    plan = build_plan(request_, report.model_copy(update={"noise_scale": point_read}), catalog)
    assert plan.statistical_efficiency.b_noise is None and plan.noise_sensitivity
    assert any("comes from 12 measured steps, too few for a band: the plan does not use it" in w for w in plan.warnings)

"""The gradient noise scale: the two-batch formulas, the estimator's averaging and band, and the
measurement against a task whose noise scale is known in closed form.

Linear regression y = xᵀw* + σε, x ~ N(0, I_d), ε ~ N(0, 1), loss ½(xᵀw − y)². With Δ = w − w*,
the per-sample gradient (xᵀΔ − σε)x has mean G = Δ and, by Isserlis' theorem
(E[(xᵀΔ)² xxᵀ] = |Δ|² I + 2ΔΔᵀ), covariance Σ = |Δ|² I + ΔΔᵀ + σ² I. So
tr(Σ) = (d+1)|Δ|² + dσ², |G|² = |Δ|², B_simple = (d+1) + dσ²/|Δ|².
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from planner.contracts.probe import NoiseScale
from planner.models import ModelBundle
from planner.probe import ProbeConfig, TrainStep, run_probe
from planner.probe.noise import (
    MIN_BAND_STEPS,
    NoiseScaleEstimator,
    measure_noise_scale,
    noise_phase,
    two_batch_estimates,
)
from planner.probe.point import Cancelled

CPU = torch.device("cpu")
D, DELTA, SIGMA = 8, 5.0, 20.0  # Δ = 5 in every coordinate; large, so AdamW's 1e-4 steps barely move it
TRUE_B_SIMPLE = (D + 1) + D * SIGMA**2 / (D * DELTA**2)  # = 25
REF = f"{__name__}:linear_regression"


def linear_regression() -> ModelBundle:
    """The closed-form task above as a bundle; its data come from one seeded generator."""
    generator = torch.Generator().manual_seed(0)
    w_star = torch.randn(D, generator=generator)
    model = nn.Linear(D, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_((w_star + DELTA)[None])

    def make_batch(batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(batch_size, D, generator=generator)
        y = x @ w_star + SIGMA * torch.randn(batch_size, generator=generator)
        return x.to(device), y.to(device)

    def loss(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return 0.5 * (m(x).squeeze(1) - y).square().mean()

    return ModelBundle(id="linear-regression", model=model, make_batch=make_batch, loss=loss,
                       data_kind="synthetic", data_source="x ~ N(0, I), y = x.w* + 20 N(0, 1)")


def frozen_step(bundle: ModelBundle | None = None) -> TrainStep:
    """A TrainStep whose optimizer cannot move w (lr 0): the closed form holds at every step."""
    step = TrainStep(bundle or linear_regression(), CPU)
    for group in step.optimizer.param_groups:
        group["lr"] = 0.0
    return step


def norms_for(g_sq: float, trace: float, b_small: int, b_big: int) -> tuple[float, float]:
    """The expected (|g_small|², |g_big|²) of a task with these |G|² and tr(Σ)."""
    return g_sq + trace / b_small, g_sq + trace / b_big


# -- the formulas ----------------------------------------------------------------------------


def test_two_batch_formulas_invert_the_expected_norms():
    g_small_sq, g_big_sq = norms_for(3.0, 40.0, 8, 32)
    assert two_batch_estimates(g_small_sq, g_big_sq, 8, 32) == pytest.approx((3.0, 40.0))
    with pytest.raises(ValueError, match="B_small < B_big"):
        two_batch_estimates(1.0, 1.0, 8, 8)


def test_numerator_and_denominator_are_averaged_apart_then_divided():
    estimator = NoiseScaleEstimator(4, 16, ema=0.5)
    estimator.add(*norms_for(1.0, 10.0, 4, 16))  # weight 0.5 (older)
    estimator.add(*norms_for(3.0, 10.0, 4, 16))  # weight 1
    g_sq, trace = estimator.averages()
    assert g_sq == pytest.approx((0.5 * 1 + 3) / 1.5) and trace == pytest.approx(10.0)
    assert estimator.b_simple() == pytest.approx(10 / ((0.5 + 3) / 1.5))  # not the mean of 10/1 and 10/3


def test_a_steady_signal_gives_a_tight_band_around_the_estimate():
    estimator = NoiseScaleEstimator(4, 16)
    for g_sq in (1.9, 2.1, 2.0, 1.95, 2.05) * 4:
        estimator.add(*norms_for(g_sq, 50.0, 4, 16))
    outcome = estimator.outcome()
    assert outcome.warnings == [] and outcome.noise_scale is not None
    ns = outcome.noise_scale
    assert 50 / 2.1 <= ns.low <= ns.b_simple <= ns.high <= 50 / 1.9  # every resample lies between the extremes
    assert (ns.b_small, ns.b_big, ns.steps, ns.provenance, ns.band) == (4, 16, MIN_BAND_STEPS, "measured", "measured")


def test_under_twenty_steps_the_read_is_a_point_with_no_band():
    estimator = NoiseScaleEstimator(4, 16)
    for g_sq in (1.9, 2.1, 2.0, 1.95, 2.05, 2.0, 1.9, 2.1, 2.0, 1.95, 2.05, 2.0, 1.9, 2.1, 2.0, 1.95, 2.05, 2.0, 2.0):
        estimator.add(*norms_for(g_sq, 50.0, 4, 16))
    assert estimator.steps == MIN_BAND_STEPS - 1
    outcome = estimator.outcome()
    ns = outcome.noise_scale
    assert ns is not None and ns.band == "insufficient" and ns.low is None and ns.high is None
    assert ns.b_simple == pytest.approx(25, rel=0.05)
    assert "no band (insufficient: 20 steps give one)" in outcome.warnings[0]
    with pytest.raises(ValueError, match="band 'insufficient' needs low and high unset"):
        NoiseScale(b_simple=25, low=20, high=30, band="insufficient", b_small=4, b_big=16, steps=19)


def test_the_band_holds_the_reads_at_every_smaller_size():
    """B_simple read from 2·B_small against the same B_big widens the band when it differs."""
    estimator = NoiseScaleEstimator(4, 16)
    for g_sq in (1.9, 2.1, 2.0, 1.95, 2.05) * 4:
        small, big = norms_for(g_sq, 50.0, 4, 16)
        estimator.add(small, big, {8: big + 60.0 * (1 / 8 - 1 / 16)})  # tr(Σ) looks like 60 from B = 8
    ns = estimator.outcome().noise_scale
    assert ns is not None and ns.b_simple == pytest.approx(25, rel=0.05)
    assert [(r.b_small, r.b_big) for r in ns.reads] == [(4, 16), (8, 16)]
    g_sq, trace = estimator.averages(8)
    assert trace == pytest.approx(60) and ns.reads[1].b_simple == pytest.approx(60 / g_sq)
    assert ns.low < 25 < ns.reads[1].b_simple == pytest.approx(ns.high)
    assert "reads at B_small = 8" in ns.method


def test_unresolved_estimates_give_warnings_with_bounds_not_a_noise_scale():
    too_few = NoiseScaleEstimator(4, 16)
    too_few.add(*norms_for(1.0, 1.0, 4, 16))
    assert too_few.outcome().noise_scale is None and "1 step(s) ran" in too_few.outcome().warnings[0]

    noise_only = NoiseScaleEstimator(4, 16)
    for g_sq in (-0.5, 0.2, -0.3, 0.1):  # the signal averages below zero
        noise_only.add(*norms_for(g_sq, 100.0, 4, 16))
    outcome = noise_only.outcome()
    assert outcome.noise_scale is None and noise_only.b_simple() is None
    assert "|G|² estimate is" in outcome.warnings[0] and "gradient noise dominates" in outcome.warnings[0]

    open_band = NoiseScaleEstimator(4, 16, ema=0.99)
    for g_sq in (3.0, -2.5) * 10:  # positive on average, but not resolved from zero
        open_band.add(*norms_for(g_sq, 100.0, 4, 16))
    outcome = open_band.outcome()
    assert open_band.b_simple() is not None and outcome.noise_scale is None
    assert "open above" in outcome.warnings[0] and "B_noise >" in outcome.warnings[0]


# -- the measurement -------------------------------------------------------------------------


def test_the_optimizer_steps_with_the_mean_of_the_micro_batch_gradients():
    bundle = linear_regression()
    draws = [bundle.make_batch(5, CPU) for _ in range(4)]
    replay = iter(draws)
    bundle.make_batch = lambda batch_size, device: next(replay)  # the measurement sees exactly these
    step = frozen_step(bundle)
    weight = step.model.weight
    estimator = NoiseScaleEstimator(5, 20)
    measure_noise_scale(step, estimator, steps=1)
    x, y = torch.cat([d[0] for d in draws]), torch.cat([d[1] for d in draws])
    expected = torch.autograd.grad(step.bundle.loss(step.model, (x, y)), weight)[0]  # the loss of all 20
    assert torch.allclose(weight.grad, expected, rtol=1e-5, atol=1e-6)
    small = [torch.autograd.grad(step.bundle.loss(step.model, d), weight)[0].square().sum() for d in draws]
    g_sq, trace = two_batch_estimates(torch.stack(small).mean().item(), expected.square().sum().item(), 5, 20)
    assert estimator.g_sq[0] == pytest.approx(g_sq, rel=1e-4) and estimator.trace[0] == pytest.approx(trace, rel=1e-4)


def test_linear_regression_noise_scale_matches_the_closed_form():
    estimator = NoiseScaleEstimator(16, 64, ema=0.999)  # w is fixed: nothing to forget, keep every step
    assert measure_noise_scale(frozen_step(), estimator, steps=300) is None
    outcome = estimator.outcome()
    assert outcome.noise_scale is not None, outcome.warnings
    ns = outcome.noise_scale
    assert ns.b_simple == pytest.approx(TRUE_B_SIMPLE, rel=0.15)
    assert ns.low <= TRUE_B_SIMPLE <= ns.high
    assert ns.grad_sqnorm == pytest.approx(D * DELTA**2, rel=0.15)
    assert ns.trace_sigma == pytest.approx((D + 1) * D * DELTA**2 + D * SIGMA**2, rel=0.15)


def test_the_deadline_stops_before_a_step_that_would_overrun_it_and_cancel_keeps_what_was_done():
    estimator = NoiseScaleEstimator(4, 16)
    assert measure_noise_scale(frozen_step(), estimator, steps=50, deadline=time.perf_counter()) == "time limit"
    assert estimator.steps == 0
    began = time.perf_counter()
    estimator = NoiseScaleEstimator(4, 16)
    assert measure_noise_scale(frozen_step(), estimator, steps=10**6, deadline=began + 0.5) == "time limit"
    assert 0 < estimator.steps < 10**6 and time.perf_counter() - began < 0.5 + 0.1

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        measure_noise_scale(frozen_step(), NoiseScaleEstimator(4, 16), steps=5, cancel=cancel)
    config = ProbeConfig(model=REF, noise_steps=5)
    outcome = noise_phase(frozen_step(), config, 4, time.perf_counter() + 60, cancel, say=lambda text: None)
    assert outcome.noise_scale is None
    assert outcome.warnings[0] == "noise scale: cancelled after 0 of 5 steps"


# -- in the sweep ----------------------------------------------------------------------------


def test_the_sweep_measures_the_noise_scale_at_its_recommended_batch(fast_config):
    events = []
    report = run_probe(fast_config(REF, max_batch=8, noise_steps=40, plateau_gain=-1), on_event=events.append)
    ns = report.noise_scale
    assert ns is not None, report.warnings
    assert (ns.b_small, ns.b_big, ns.steps) == (report.recommended_max_batch, 4 * report.recommended_max_batch, 40)
    assert ns.low <= ns.b_simple <= ns.high
    assert report.settings.noise_steps == 40
    messages = [e.text for e in events if e.kind == "message"]
    assert any(m.startswith("noise scale: step 40/40") for m in messages)
    assert events[-1].kind == "done"


def test_a_failing_noise_phase_is_a_warning_not_a_lost_sweep(fast_config, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the device fell over")

    monkeypatch.setattr("planner.probe.noise._one_step", fail)
    report = run_probe(fast_config(REF, max_batch=4, noise_steps=5))
    assert report.noise_scale is None and report.ok_points()
    assert "noise scale not measured: step 1 failed (RuntimeError: the device fell over)" in report.warnings

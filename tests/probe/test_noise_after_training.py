"""Training before the noise scale is read: B_noise grows as the loss falls, so a read near
initialisation understates it. On the closed-form task of test_noise_scale.py,
loss = ½(|Δ|² + σ²) and B_simple = (d+1) + dσ²/|Δ|²: training to a target loss fixes |Δ|², and
with it the B_simple the measurement there must find.
"""

from __future__ import annotations

import time

import pytest
import torch

from planner.probe import ProbeConfig, TrainStep, run_probe
from planner.probe.noise import (
    LOSS_WINDOW,
    MIN_BAND_STEPS,
    MIN_STEPS,
    NoiseScaleEstimator,
    measure_noise_scale,
    noise_phase,
    recent_loss,
    set_learning_rate,
    train_before_measuring,
)
from tests.probe.test_noise_scale import CPU, D, REF, SIGMA, TRUE_B_SIMPLE, linear_regression

TARGET = 225.0  # from ½(8·25 + 400) = 300 at initialisation: |Δ|² = 50, B_simple = 9 + 3200/50 = 73
LR = 0.05  # AdamW moves each coordinate up to ~0.05 a step: |Δ| halves in ~50 steps


def w_star() -> torch.Tensor:
    return torch.randn(D, generator=torch.Generator().manual_seed(0))  # as linear_regression draws it first


def test_training_stops_at_the_target_and_the_noise_scale_read_there_is_the_closed_forms():
    step = TrainStep(linear_regression(), CPU)
    set_learning_rate(step, LR)
    config = ProbeConfig(model=REF, noise_steps=1, noise_train_steps=400, noise_target_loss=TARGET, noise_lr=LR)
    losses: list[float] = []
    stopped = train_before_measuring(step, config, 64, losses, time.perf_counter() + 60, None, say=lambda text: None)
    assert stopped == "target loss" and LOSS_WINDOW <= len(losses) < 400
    assert recent_loss(losses) <= TARGET
    assert step.model.weight.grad is None  # freed with the accumulators it aliased, before the measurement's
    delta_sq = (step.model.weight.detach()[0] - w_star()).square().sum().item()
    assert 0.5 * (delta_sq + SIGMA**2) == pytest.approx(TARGET, rel=0.1)  # the loss it stopped at is the model's

    set_learning_rate(step, 0.0)  # hold the trained weights: the closed form at them is the truth
    estimator = NoiseScaleEstimator(16, 64, ema=0.999)
    measure_noise_scale(step, estimator, steps=300)
    expected = (D + 1) + D * SIGMA**2 / delta_sq
    assert estimator.b_simple() == pytest.approx(expected, rel=0.15)
    assert expected > 2 * TRUE_B_SIMPLE  # the read at initialisation would have been under half of it


def test_the_probe_trains_first_then_reports_where_it_measured(fast_config):
    config = fast_config(REF, start_batch=16, max_batch=16, noise_steps=30, noise_train_steps=400,
                         noise_target_loss=TARGET, noise_lr=LR)
    events = []
    report = run_probe(config, on_event=events.append)
    ns = report.noise_scale
    assert ns is not None, report.warnings
    assert ns.lr == LR and LOSS_WINDOW <= ns.trained_steps < 400
    assert ns.train_loss is not None and ns.train_loss < TARGET * 1.05  # the measured steps train on from there
    assert ns.b_simple > 2 * TRUE_B_SIMPLE
    assert (report.settings.noise_train_steps, report.settings.noise_target_loss) == (400, TARGET)
    assert any(e.text.startswith("noise scale: loss") and f"reached {TARGET:g}" in e.text for e in events)


def test_without_training_first_the_report_says_the_lr_and_no_trained_steps(fast_config):
    ns = run_probe(fast_config(REF, max_batch=8, noise_steps=10)).noise_scale
    assert ns is not None and ns.trained_steps == 0
    assert ns.lr == pytest.approx(1e-4)  # the probe's own: barely trains
    assert ns.train_loss == pytest.approx(0.5 * (D * 25 + SIGMA**2), rel=0.2)  # Δ = 5: still at the start


def test_a_spent_time_limit_ends_the_training_and_the_measurement_with_a_warning():
    config = ProbeConfig(model=REF, noise_steps=5, noise_train_steps=100, noise_lr=LR)
    outcome = noise_phase(TrainStep(linear_regression(), CPU), config, 16, time.perf_counter(), None,
                          say=lambda text: None)
    assert any(w.startswith("noise scale: the training before it stopped after 0 of 100 steps") and
               "to leave the time limit room for 5 measured steps" in w for w in outcome.warnings)
    assert any("time limit after 0 of 5 steps" in w for w in outcome.warnings)  # the limit holds: no step past it
    assert outcome.noise_scale is None


def test_the_training_stops_early_to_leave_time_for_the_band_s_steps():
    """With time for a few hundred steps, 100,000 training steps give way to the 20 a band needs."""
    config = ProbeConfig(model=REF, noise_steps=MIN_BAND_STEPS, noise_train_steps=100_000)  # lr 1e-4: Δ stays
    began = time.perf_counter()
    outcome = noise_phase(TrainStep(linear_regression(), CPU), config, 16, began + 2.0, None, say=lambda text: None)
    stopped = next(w for w in outcome.warnings if w.startswith("noise scale: the training before it stopped"))
    assert f"room for {MIN_BAND_STEPS} measured steps" in stopped
    assert outcome.noise_scale is not None and outcome.noise_scale.trained_steps > 0
    assert outcome.noise_scale.steps >= MIN_STEPS  # all 20 unless the machine slowed down meanwhile


@pytest.mark.parametrize("settings, needle", [
    (dict(noise_train_steps=10), "needs noise_steps > 0"),
    (dict(noise_steps=5, noise_target_loss=2.0), "needs noise_train_steps > 0"),
])
def test_training_first_needs_a_measurement_after_it(settings, needle):
    with pytest.raises(ValueError, match=needle):
        ProbeConfig(model=REF, **settings)

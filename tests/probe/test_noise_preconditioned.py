"""The Adam-preconditioned noise scale on a quadratic whose answer is known in closed form.

Linear regression with anisotropic inputs: x ~ N(0, S), S = diag(s²), y = xᵀw* + σε, loss
½(xᵀw − y)². With Δ = w − w*, the per-sample gradient (xᵀΔ − σε)x has mean G = SΔ and, by
Isserlis' theorem, covariance Σ = (ΔᵀSΔ + σ²) S + SΔΔᵀS. Divided by a fixed preconditioner d
(Adam's √v̂ + ε), the gradient has mean G/d and covariance diag(1/d) Σ diag(1/d), so
B_pre = Σ_i Σ_ii/d_i² / Σ_i G_i²/d_i². Adam's v is set to its fixed point E[g_big²] = G² +
diag(Σ)/B_big (and its step count high, so v̂ = v), with lr 0: the closed form holds at every step.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from planner.models import ModelBundle
from planner.probe import TrainStep
from planner.probe.noise import (
    NoiseScaleEstimator,
    adam_denominators,
    is_adam_family,
    measure_noise_scale,
)
from planner.probe.noise_estimator import preconditioned

CPU = torch.device("cpu")
# Four coordinates of small scale and large signal, four of large scale and little signal.
SCALES = torch.tensor([0.2, 0.2, 0.2, 0.2, 3.0, 3.0, 3.0, 3.0])  # s_i: S = diag(s²)
DELTA = torch.tensor([4.0, -4.0, 4.0, -4.0, 0.1, -0.1, 0.1, -0.1])
SIGMA = 2.0
B_SMALL, B_BIG = 32, 128


def moments() -> tuple[torch.Tensor, torch.Tensor]:
    """(G, diag Σ) of the per-sample gradient, in closed form."""
    s2 = SCALES.square()
    g = s2 * DELTA
    quad = (s2 * DELTA.square()).sum() + SIGMA**2  # ΔᵀSΔ + σ²
    return g, quad * s2 + g.square()


def anisotropic_regression() -> ModelBundle:
    generator = torch.Generator().manual_seed(0)
    w_star = torch.randn(len(SCALES), generator=generator)
    model = nn.Linear(len(SCALES), 1, bias=False)
    with torch.no_grad():
        model.weight.copy_((w_star + DELTA)[None])

    def make_batch(batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        x = SCALES * torch.randn(batch_size, len(SCALES), generator=generator)
        return x.to(device), (x @ w_star + SIGMA * torch.randn(batch_size, generator=generator)).to(device)

    def loss(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return 0.5 * (m(x).squeeze(1) - y).square().mean()

    return ModelBundle(id="anisotropic-regression", model=model, make_batch=make_batch, loss=loss,
                       data_kind="synthetic", data_source="x ~ N(0, diag(s²)), y = x.w* + 2 N(0, 1)")


def adam_at_its_fixed_point() -> tuple[TrainStep, torch.Tensor]:
    """A frozen step (lr 0) whose AdamW state holds v = E[g_big²]; and the √v̂ + ε it divides by."""
    step = TrainStep(anisotropic_regression(), CPU)
    for group in step.optimizer.param_groups:
        group["lr"] = 0.0
    step.run(step.bundle.make_batch(B_BIG, CPU))  # creates the state
    g, var = moments()
    state = step.optimizer.state[step.model.weight]
    state["exp_avg_sq"].copy_((g.square() + var / B_BIG)[None])
    state["step"].fill_(1e6)  # bias correction 1 - β2^step = 1: v̂ = v
    return step, (g.square() + var / B_BIG).sqrt() + step.optimizer.param_groups[0]["eps"]


def test_the_preconditioner_is_adams_sqrt_v_hat_plus_eps():
    step, expected = adam_at_its_fixed_point()
    assert is_adam_family(step)
    (denominator,) = adam_denominators(step, [step.model.weight])
    assert torch.allclose(denominator[0], expected, rtol=1e-6)

    fresh = TrainStep(anisotropic_regression(), CPU)
    assert adam_denominators(fresh, [fresh.model.weight]) is None  # no state yet: nothing to precondition by


def test_preconditioned_noise_scale_matches_the_closed_form_and_differs_from_the_raw():
    step, d = adam_at_its_fixed_point()
    g, var = moments()
    raw_truth = float(var.sum() / g.square().sum())
    pre_truth = float((var / d.square()).sum() / (g.square() / d.square()).sum())
    assert pre_truth < raw_truth / 1.5  # dividing by √v lifts the small-scale coordinates, where the signal is

    raw = NoiseScaleEstimator(B_SMALL, B_BIG, ema=0.999)
    pre = NoiseScaleEstimator(B_SMALL, B_BIG, ema=0.999, method="micro-batches, preconditioned")
    assert measure_noise_scale(step, raw, steps=400, preconditioned_estimator=pre) is None
    assert raw.b_simple() == pytest.approx(raw_truth, rel=0.15)
    assert pre.steps == 400 and pre.b_simple() == pytest.approx(pre_truth, rel=0.15)
    read, warnings = preconditioned(pre, "test")
    assert warnings == [] and read is not None and read.low <= pre_truth <= read.high
    assert read.b_simple == pytest.approx(pre.b_simple())

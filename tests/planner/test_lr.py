import math

import pytest

from planner.contracts import ReferenceRun
from planner.plan.lr import gain, retune

ADAMW = ReferenceRun(batch_size=64, lr=1e-3, optimizer="adamw", warmup_steps=1000, weight_decay=0.1)
SGD = ReferenceRun(batch_size=64, lr=1e-3, optimizer="sgd", momentum=0.9)


def test_gain_is_linear_without_noise_scale_and_saturates_with_one():
    assert gain(64, 256, None) == 4.0
    assert gain(64, 256, 64.0) == pytest.approx(2 / 1.25)  # (1+64/64)/(1+64/256) = 1.6
    assert gain(64, 10**9, 64.0) == pytest.approx(2.0, rel=1e-6)  # saturates at 1 + B_noise/B0


def test_adamw_square_root_rule_with_sde_betas_and_eps():
    lr = retune(ADAMW, 256, None)  # kappa = 4
    assert lr.lr == pytest.approx(2e-3)
    assert lr.ratio == pytest.approx(2.0)
    assert lr.betas == pytest.approx((0.6, 0.996))  # 1-0.9 -> 0.4, 1-0.999 -> 0.004
    assert lr.eps == pytest.approx(5e-9)  # 1e-8 / sqrt(4)
    assert lr.warmup_steps == 250  # 1000 steps x 64/256: constant in samples
    assert lr.weight_decay == 0.1
    assert "square-root" in lr.rule


def test_adamw_smaller_batch_moves_betas_towards_one():
    lr = retune(ADAMW, 16, None)  # kappa = 1/4
    assert lr.lr == pytest.approx(0.5e-3)
    assert lr.betas == pytest.approx((0.975, 0.99975))
    assert lr.eps == pytest.approx(2e-8)


def test_adamw_betas_clamped_at_large_kappa():
    ref = ReferenceRun(batch_size=8, lr=1e-3, optimizer="adam")
    lr = retune(ref, 512, None)  # kappa = 64: 1-beta1 -> 6.4, clamped
    assert lr.betas is not None
    assert lr.betas[0] == 0.0
    assert lr.betas[1] == pytest.approx(1 - 64 * 0.001)
    assert any("clamped" in n for n in lr.notes)


def test_adam_with_noise_scale_uses_bounded_gain():
    lr = retune(ADAMW, 256, 64.0)
    assert lr.lr == pytest.approx(1e-3 * math.sqrt(1.6))
    assert "B_noise=64" in lr.rule


def test_sgd_linear_rule():
    lr = retune(SGD, 256, None)
    assert lr.lr == pytest.approx(4e-3)
    assert lr.momentum == 0.9
    assert lr.betas is None
    assert "linear" in lr.rule
    assert retune(SGD, 256, 64.0).lr == pytest.approx(1.6e-3)


def test_sgd_large_gain_without_warmup_advises_one():
    lr = retune(SGD, 64 * 8, None)
    assert any("warmup" in n for n in lr.notes)

import math

import pytest

from planner.contracts import ReferenceRun
from planner.plan.lr import BETA2_FLOOR, gain, retune, sde_range_issue

ADAMW = ReferenceRun(batch_size=64, lr=1e-3, optimizer="adamw", warmup_steps=1000, weight_decay=0.1)
SGD = ReferenceRun(batch_size=64, lr=1e-3, optimizer="sgd", momentum=0.9, weight_decay=5e-4)


def test_gain_is_linear_without_noise_scale_and_saturates_with_one():
    assert gain(64, 256, None) == 4.0
    assert gain(64, 256, 64.0) == pytest.approx(2 / 1.25)  # (1+64/64)/(1+64/256) = 1.6
    assert gain(64, 10**9, 64.0) == pytest.approx(2.0, rel=1e-6)  # saturates at 1 + B_noise/B0


def test_inside_the_sde_range_every_quantity_moves_by_one_kappa():
    lr = retune(ADAMW, 256, None)  # kappa = 4: kappa(1-beta1) = 0.4 <= 0.5, kappa <= 8
    assert lr.lr == pytest.approx(2e-3)
    assert lr.ratio == pytest.approx(2.0)
    assert lr.betas == pytest.approx((0.6, 0.996))  # 1-0.9 -> 0.4, 1-0.999 -> 0.004
    assert lr.eps == pytest.approx(5e-9)  # 1e-8 / sqrt(4)
    assert lr.warmup_steps == 250  # 1000 steps x 64/256: constant in samples
    assert "SDE" in (lr.betas_rule or "") and "SDE" in (lr.eps_rule or "")
    assert not lr.warnings


def test_inside_the_range_with_a_noise_scale_kappa_is_the_bounded_gain():
    lr = retune(ADAMW, 128, 1024.0)  # r = (1+16)/(1+8) = 1.889, B=128 <= B_noise
    r = 17 / 9
    assert lr.lr == pytest.approx(1e-3 * math.sqrt(r))
    assert lr.betas == pytest.approx((1 - r * 0.1, 1 - r * 0.001))  # the same kappa as the lr, not B/B0 = 2
    assert lr.eps == pytest.approx(1e-8 / math.sqrt(r))


def test_smaller_batch_moves_betas_towards_one():
    lr = retune(ADAMW, 16, None)  # kappa = 1/4
    assert lr.lr == pytest.approx(0.5e-3)
    assert lr.betas == pytest.approx((0.975, 0.99975))
    assert lr.eps == pytest.approx(2e-8)


def test_outside_the_range_beta1_kept_and_beta2_half_life_held_in_samples():
    lr = retune(ADAMW, 1024, None)  # kappa = 16 > 8
    assert lr.lr == pytest.approx(4e-3)  # the lr rule still applies: sqrt(16)
    half_life = math.log(0.5) / math.log(0.999) / 16  # 692.8 steps at B0 -> 43.3 at 16 x B0
    assert half_life == pytest.approx(43.3, abs=0.05)
    assert lr.betas == pytest.approx((0.9, 0.5 ** (1 / half_life)))
    assert lr.betas[1] == pytest.approx(0.98412, abs=1e-5)
    assert lr.eps == 1e-8  # kept
    assert any("not applied" in w and "kappa=16" in w for w in lr.warnings)
    assert not any("not applied" in n for n in lr.notes)  # a warning, not a note


def test_outside_the_range_beta2_stops_at_its_floor():
    lr = retune(ADAMW, 4096, None)  # kappa = 64: half-life 10.8 steps -> 0.938, floored
    assert lr.betas == pytest.approx((0.9, BETA2_FLOOR))
    assert "floor" in (lr.betas_rule or "")


def test_batch_above_the_noise_scale_is_outside_the_range():
    lr = retune(ADAMW, 256, 128.0)  # r = (1+2)/(1+0.5) = 2, small, but B > B_noise
    assert lr.lr == pytest.approx(1e-3 * math.sqrt(2))
    assert lr.betas is not None and lr.betas[0] == 0.9
    assert any("B_noise=128" in w for w in lr.warnings)
    assert sde_range_issue(2.0, 128, 0.9, 128.0) is None


@pytest.mark.parametrize("b_noise", [None, 50.0, 500.0, 5000.0])
def test_no_beta1_below_the_references_outside_the_range(b_noise):
    for batch in (8, 32, 64, 128, 256, 512, 1024, 4096, 16384):
        lr = retune(ADAMW, batch, b_noise)
        assert lr.betas is not None
        if lr.warnings:
            assert lr.betas[0] == 0.9
        assert lr.betas[0] >= 0.5  # never the old rule's 0


def test_adamw_decay_timescale_held_in_samples():
    # tau = B0 / (lr0 * lambda0) = 64 / (1e-3 * 0.1) = 640,000 samples, at every batch
    for batch, b_noise in ((256, None), (16, None), (1024, None), (2048, 300.0)):
        lr = retune(ADAMW, batch, b_noise)
        assert lr.weight_decay is not None
        assert batch / (lr.lr * lr.weight_decay) == pytest.approx(640_000)
    assert retune(ADAMW, 256, None).weight_decay == pytest.approx(0.2)  # 0.1 x 4 x (1e-3 / 2e-3)
    assert "Wang & Aitchison 2024" in (retune(ADAMW, 256, None).weight_decay_rule or "")


def test_defaults_assumed_are_said():
    ref = ReferenceRun(batch_size=64, lr=1e-3, optimizer="adamw")
    lr = retune(ref, 256, None)
    assert any("(0.9, 0.999)" in n for n in lr.notes)
    assert any("1e-08" in n for n in lr.notes)
    assert any("0.01" in n for n in lr.notes)
    assert lr.weight_decay == pytest.approx(0.02)  # torch's 0.01, timescale held: 0.01 x 4 / 2


def test_sgd_linear_rule_keeps_l2_decay_and_momentum():
    lr = retune(SGD, 256, None)
    assert lr.lr == pytest.approx(4e-3)
    assert lr.momentum == 0.9
    assert lr.weight_decay == 5e-4  # Goyal et al. 2017
    assert lr.betas is None
    assert "linear" in lr.rule and "Goyal" in (lr.weight_decay_rule or "")
    assert retune(SGD, 256, 64.0).lr == pytest.approx(1.6e-3)


def test_sgd_large_gain_without_warmup_advises_one():
    lr = retune(SGD, 64 * 8, None)
    assert any("warmup" in n for n in lr.notes)

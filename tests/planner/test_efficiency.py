import pytest

from planner.plan.efficiency import SampleModel


def test_noise_scale_curves_match_the_reference_run():
    m = SampleModel(reference_batch=100, reference_samples=1e6, b_noise=100.0)
    assert m.e_min == pytest.approx(5e5)  # 1e6 / (1 + 100/100)
    assert m.s_min == pytest.approx(5e3)
    assert m.samples(100) == pytest.approx(1e6)  # E(B0) = N0
    assert m.steps(100) == 10_000
    assert m.samples(400) == pytest.approx(2.5e6)  # 5e5 * (1 + 4)
    assert m.steps(400) == 6250  # S_min (1 + 100/400)
    assert m.steps(10**7) == pytest.approx(5000, rel=1e-3)  # approaches S_min


def test_doubling_gain_halves_steps_only_far_below_the_critical_batch():
    m = SampleModel(reference_batch=100, reference_samples=1e6, b_noise=1000.0)
    assert m.step_gain_vs_double(1) == pytest.approx(0.5, abs=1e-3)
    assert m.step_gain_vs_double(1000) == pytest.approx(0.25)  # 1 - 1.5/2
    assert m.step_gain_vs_double(100_000) < 0.01


def test_samples_fixed_without_noise_scale():
    m = SampleModel(reference_batch=64, reference_samples=1e6, b_noise=None)
    assert m.samples(4096) == 1e6
    assert m.steps(4096) == 245  # ceil(1e6 / 4096)
    d = m.describe()
    assert d.mode == "samples-fixed" and "samples fixed" in d.explanation


def test_describe_with_noise_scale():
    d = SampleModel(100, 1e6, 100.0).describe()
    assert d.mode == "noise-scale"
    assert d.e_min == pytest.approx(5e5)
    assert d.s_min == pytest.approx(5e3)

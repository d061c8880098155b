"""The band-coverage bench on a few seeds: its draws follow the closed form, and the band covers."""

from __future__ import annotations

import numpy as np
import pytest

from bench.noise_band_coverage import DELTA, SIGMA, D, coverage, draw_norms


def test_the_drawn_norms_have_the_closed_form_expectations():
    norms = draw_norms(np.random.default_rng(0), steps=4000, b_small=8)
    g_sq, trace = D * DELTA**2, (D + 1) * D * DELTA**2 + D * SIGMA**2  # E|g_B|² = |G|² + tr(Σ)/B
    assert norms["small"].mean() == pytest.approx(g_sq + trace / 8, rel=0.03)
    assert norms["at2"].mean() == pytest.approx(g_sq + trace / 16, rel=0.03)
    assert norms["big"].mean() == pytest.approx(g_sq + trace / 32, rel=0.03)


def test_twenty_steps_give_a_band_that_holds_the_truth_and_fewer_give_none():
    row = coverage(seeds=60, steps=20, b_small=16)
    assert row["reported_band_runs"] >= 55 and row["reported_coverage"] >= 0.8
    assert coverage(seeds=5, steps=10, b_small=16)["reported_band_runs"] == 0

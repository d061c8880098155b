"""Smoke test of bench/truth.py's pieces: crossing detection, a short real run, the noise reading, the table."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from truth_lib.data import eval_batch, make_bundle, split_corpus
from truth_lib.noise import NoiseSettings, noise_at
from truth_lib.report import BatchRow, Outcome, table
from truth_lib.train import OptSettings, Run, crossing_step, next_eval, train_to_target

from planner.contracts.probe import NoiseScale
from planner.contracts.request import ReferenceRun
from planner.plan.efficiency import SampleModel
from planner.plan.lr import retune

REFERENCE = ReferenceRun(batch_size=32, lr=2e-3, weight_decay=0.0)


def schedule(last: int) -> list[int]:
    steps = [10]
    while steps[-1] < last:
        steps.append(next_eval(steps[-1]))
    return steps


def test_eval_schedule_is_geometric_and_strictly_increasing():
    steps = schedule(10_000)
    assert all(b > a for a, b in itertools.pairwise(steps))
    assert steps[-1] / steps[-2] == pytest.approx(1.04, abs=0.001)


def test_crossing_of_a_smooth_curve_is_exact():
    steps = schedule(5_000)
    losses = [3.0 - 0.2 * math.log(s) for s in steps]  # crosses 1.5 at exp(7.5) ~ 1808
    assert crossing_step(steps, losses, 1.5) == pytest.approx(math.exp(7.5), rel=1e-6)


def test_a_dip_below_the_target_does_not_end_the_count_early():
    steps = schedule(5_000)
    losses = [3.0 - 0.2 * math.log(s) + (0.005 if i % 2 else -0.005) for i, s in enumerate(steps)]
    dip = next(i for i, s in enumerate(steps) if s >= 1_650)  # ~9% early, 0.025 nats below the trend
    losses[dip] -= 0.025
    assert losses[dip] <= 1.5
    crossing = crossing_step(steps, losses, 1.5)
    assert crossing == pytest.approx(math.exp(7.5), rel=0.03)
    assert abs(crossing - math.exp(7.5)) < math.exp(7.5) - steps[dip]


def test_a_curve_that_never_reaches_the_target_has_no_crossing():
    assert crossing_step([10, 11, 12], [3.0, 2.9, 2.95], 2.0) is None


@pytest.fixture(scope="module")
def corpus():
    torch.set_num_threads(2)
    return split_corpus()


def test_a_short_real_run_reaches_an_easy_target_and_its_noise_scale_reads(corpus):
    train, held_out = corpus
    assert 0 < len(held_out.tokens) < len(train.tokens) / 4
    opt = OptSettings.from_choice(retune(REFERENCE, 64, None))
    run = train_to_target(make_bundle(train, 0), 64, 0, opt, 3.2, eval_batch(held_out, 256), max_steps=400,
                          checkpoint_levels=(4.0,), keep_near_target=True)
    assert run.steps_to_target is not None and 10 < run.steps_to_target < 400
    assert 4.0 in run.checkpoints and run.states_in_window()
    outcome = noise_at(train, list(run.states_in_window().values()), NoiseSettings(b_small=8, micro_batches=2, steps=4))
    assert outcome.noise_scale is not None or outcome.warnings
    if outcome.noise_scale is not None:
        assert outcome.noise_scale.steps == 4


def fake_run(batch: int, steps: float | None) -> Run:
    return Run(batch=batch, seed=0, settings=OptSettings(1e-3, (0.9, 0.999), 1e-8, 0.0), target=1.0,
               steps_to_target=steps)


N0 = 32 * 5_000  # reference samples: 5,000 steps at B0 = 32
B_NOISE = NoiseScale(b_simple=1_000.0, low=900, high=1_100, b_small=32, b_big=512, steps=10)


def outcome_of(measured: dict[int, float | None], cap_steps: int) -> Outcome:
    """An Outcome whose batch B measured `measured[B]` steps (two identical seeds), as the bench would build it."""
    model, naive = SampleModel(32, N0, B_NOISE.b_simple), SampleModel(32, N0, None)
    rows = [BatchRow.from_runs(b, retune(REFERENCE, b, B_NOISE.b_simple), [fake_run(b, steps)] * 2, model, naive,
                               B_NOISE, cap_steps) for b, steps in measured.items()]
    return Outcome(target=1.0, reference=REFERENCE, lr_sweep={2e-3: 5_000.0}, reference_steps=[5_000.0], n0=N0,
                   noise_scale=B_NOISE, noise_checkpoints=1, ladder=[], rows=rows, lr_check={}, seeds=[0],
                   settings={}, train_data="", eval_data="", runtime_s=1.0, threads=1)


def test_the_table_fits_b_crit_back_from_steps_that_follow_the_model():
    model = SampleModel(32, N0, B_NOISE.b_simple)
    outcome = outcome_of({b: model.samples(b) / b for b in (8, 32, 128, 512, 2048, 8192)}, cap_steps=10**6)
    _, b_crit = outcome.fit_b_crit()
    assert b_crit == pytest.approx(B_NOISE.b_simple, rel=0.01)
    assert outcome.worst_error() < 1  # predictions round up to whole steps
    assert "within 25%: yes" in table(outcome)


def test_a_batch_that_missed_the_target_fails_the_verdict():
    outcome = outcome_of({32: 5_000.0, 512: None}, cap_steps=50_000)
    assert outcome.worst_error() is None
    assert ">50,000" in table(outcome) and "within 25%: no" in table(outcome)

"""The DDP probe on two gloo ranks on the CPU: what it measures, and how a failing rank reads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from planner.errors import BadInput
from planner.models import ModelBundle
from planner.probe import run_probe
from planner.probe.ddp import _last_words, check_ddp, ddp_batch_sizes
from tests.probe.test_noise_scale import REF, TRUE_B_SIMPLE, linear_regression

ROOT = Path(__file__).parents[2]


def loss_fails_under_torchrun() -> ModelBundle:
    """Trains in the parent's sweep; its loss raises in a torchrun rank (RANK is set there)."""
    bundle = linear_regression()
    plain_loss = bundle.loss

    def loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        if "RANK" in os.environ:
            raise RuntimeError("this loss refuses to run under torchrun")
        return plain_loss(model, batch)

    bundle.loss = loss
    return bundle


def test_per_rank_sizes_are_the_working_batch_and_its_half_and_quarter():
    assert ddp_batch_sizes(32) == [8, 16, 32]
    assert ddp_batch_sizes(2) == [1, 2]
    assert ddp_batch_sizes(1) == [1]


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="checks the message for a machine with fewer GPUs")
def test_more_ranks_than_gpus_is_bad_input_before_the_sweep():
    with pytest.raises(BadInput, match="--nproc 2 needs 2 GPUs"):
        check_ddp(2, torch.device("cuda", 0))


@pytest.mark.slow
def test_two_gloo_ranks_measure_step_allreduce_scaling_and_noise(fast_config):
    # One sweep point (B=32), so the ranks time 8, 16 and 32 per rank; 300 noise steps keep the
    # two-rank estimate (B_small=32, B_big=64) within a few percent; AdamW at lr 1e-4 moves
    # B_simple by about 1% over them (Δ=5 per coordinate), so it is held to the closed form.
    # 20 steps of training first, at the probe's lr, move Δ by ~0.002: the closed form still holds.
    config = fast_config(REF, device="cpu", start_batch=32, max_batch=32, nproc=2, noise_steps=300, noise_ema=0.999,
                         noise_train_steps=20)
    report = run_probe(config)
    ddp = report.ddp
    assert ddp is not None, report.warnings
    assert (ddp.world_size, ddp.backend) == (2, "gloo")
    assert ddp.grad_bytes == 8 * 4  # one fp32 weight row of 8
    assert ddp.allreduce_s > 0 and ddp.bus_bandwidth_gbs > 0
    assert [p.batch_per_rank for p in ddp.points] == [8, 16, 32]
    for point in ddp.points:
        assert point.step_time_s > 0 and point.no_sync_step_time_s and point.single_step_time_s
        assert point.samples_per_s == pytest.approx(2 * point.batch_per_rank / point.step_time_s)
    assert ddp.scaling_efficiency == ddp.points[-1].scaling_efficiency
    assert 0 < ddp.scaling_efficiency <= 1.5
    assert ddp.overlap_fraction is not None and 0 <= ddp.overlap_fraction <= 1
    ns = ddp.noise_scale
    assert ns is not None, report.warnings
    assert (ns.b_small, ns.b_big, ns.steps) == (32, 64, 300)
    assert ns.b_simple == pytest.approx(TRUE_B_SIMPLE, rel=0.15)  # ranks sharing data would give tr(Σ) ≈ 0
    # Ranks' draws overlapping in part would bias it low, far out of the band; a 90% band itself
    # misses the truth one run in ten, so it is held to within 10% of it.
    assert ns.low <= 1.1 * TRUE_B_SIMPLE and ns.high >= TRUE_B_SIMPLE / 1.1
    assert (ns.trained_steps, ns.lr) == (20, pytest.approx(1e-4))
    assert ns.train_loss == pytest.approx(0.5 * (8 * 25 + 20**2), rel=0.15)  # ½(|Δ|² + σ²): the ranks' mean
    assert report.noise_scale is not None and report.settings.nproc == 2


def test_cancel_stops_the_ranks_and_keeps_the_sweep(fast_config):
    cancel = threading.Event()

    def cancel_once_ddp_starts(event) -> None:
        if event.kind == "message" and event.text.startswith("DDP probe:"):
            cancel.set()

    report = run_probe(fast_config(REF, max_batch=4, nproc=2, noise_steps=5), on_event=cancel_once_ddp_starts,
                       cancel=cancel)
    assert report.ddp is None and report.noise_scale is None  # the noise steps after it are skipped too
    assert "DDP probe: cancelled" in report.warnings and len(report.ok_points()) == 3


@pytest.mark.slow
def test_a_failing_rank_is_one_line_and_exit_code_4(tmp_path):
    model = f"{__name__}:loss_fails_under_torchrun"
    result = subprocess.run([sys.executable, "-m", "planner.cli.main", "probe", "--model", model, "--device", "cpu",
                             "--max-batch", "2", "--nproc", "2"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 4, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("batchfit")]
    assert errors == ["batchfit: error: DDP probe, rank 0 of 2: timing one rank alone: "
                      "RuntimeError: this loss refuses to run under torchrun"], result.stderr
    assert "Traceback" not in result.stderr


# torchrun's summary when rank 1 aborted and torchrun then stopped rank 0 (trimmed from a real run).
TORCHRUN_SUMMARY = """\
Failures:
[1]:
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 5799)  (SIGTERM)
------------------------------------------------------
Root Cause (first observed failure):
[0]:
  rank      : 1 (local_rank: 1)
  exitcode  : -6 (pid: 5800)  (SIGABRT)
"""


def test_a_crashed_rank_is_named_by_torchruns_root_cause_not_the_rank_it_stopped():
    assert _last_words(TORCHRUN_SUMMARY) == "exitcode  : -6 (pid: 5800)  (SIGABRT)"
    assert _last_words("Traceback (most recent call last):\nOSError: no space left") == "OSError: no space left"
    assert _last_words("") == "no output"

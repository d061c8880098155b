"""The memory model: the live-bytes counter, trace vs real step, the linear fit and its uses."""

from __future__ import annotations

import pytest
import torch

from planner.contracts.probe import MemoryFit, ProbePoint
from planner.plan.memory import (
    fit_memory,
    largest_batch_by_memory,
    memory_check,
    recommended_max_batch,
)
from planner.models import ModelBundle, load_model
from planner.probe import predict_step_peak, traced_step_peak
from planner.probe.memtrace import LiveBytes
from planner.probe.step import TrainStep

MIB = 2**20
GIB = 2**30
CPU = torch.device("cpu")


def test_live_bytes_counts_storages_once_and_notices_frees():
    with LiveBytes() as live:
        a = torch.empty(MIB // 4)  # 1 MiB of fp32
        view = a.view(-1, 2)  # same storage: not counted again
        del a, view  # freed before the next allocation
        b = torch.empty(MIB // 2)  # 2 MiB
        b.add_(1)  # in place: no new storage
        c = torch.empty(MIB // 4)  # 1 MiB, alive with b
    assert live.peak == 3 * MIB
    del b, c


def test_step_peak_holds_weights_gradients_and_adam_state():
    model = torch.nn.Linear(1024, 1024)
    bundle = ModelBundle(id="linear", model=model, make_batch=lambda b, d: torch.randn(b, 1024, device=d),
                         loss=lambda m, x: m(x).square().mean(), data_kind="synthetic", data_source="gaussian")
    step = TrainStep(bundle, CPU)
    x = bundle.make_batch(64, CPU)
    step.run(x)
    params = sum(p.numel() * 4 for p in model.parameters())
    peak = traced_step_peak(step, x)
    # weights + gradients + exp_avg + exp_avg_sq, plus input, output and AdamW's temporaries
    # (at most two parameter-sized buffers in torch's single-tensor implementation).
    assert 4 * params < peak <= 6 * params + 4 * x.numel() * 4


def test_fake_trace_predicts_the_real_step_and_the_fit_extrapolates():
    bundle = load_model("gpt-tiny")
    predicted = {b: predict_step_peak(bundle, b, CPU, "fp32", "torch") for b in (1, 2, 4, 8, 32)}
    step = TrainStep(bundle, CPU)
    batch = bundle.make_batch(32, CPU)
    step.run(batch)  # the optimizer state exists from here on, as in the sweep's steady state
    measured = traced_step_peak(step, batch)
    assert predicted[32] == pytest.approx(measured, rel=0.01)
    points = [ProbePoint(batch_size=b, status="ok", predicted_memory_bytes=predicted[b]) for b in (1, 2, 4, 8)]
    fit = fit_memory(points)
    assert fit.provenance == "predicted" and fit.points_used == 2  # B=4 and 8: activations dominate there
    # Extrapolated 4x past the last fitted point, the line stays within 5% of the real peak.
    assert fit.bytes_at(32) == pytest.approx(measured, rel=0.05)


def test_activation_checkpointing_cuts_per_sample_memory():
    plain = load_model("gpt-tiny")
    checkpointed = load_model("gpt-tiny", checkpointing=True)
    per_sample = {}
    for name, bundle in (("plain", plain), ("checkpointed", checkpointed)):
        low, high = (predict_step_peak(bundle, b, CPU, "fp32", "torch") for b in (8, 16))
        per_sample[name] = (high - low) / 8
    assert per_sample["checkpointed"] < 0.7 * per_sample["plain"]


def hand_points(static: float, per_sample: float, sizes=(1, 2, 4, 8)) -> list[ProbePoint]:
    return [ProbePoint(batch_size=b, status="ok", peak_memory_bytes=int(static + b * per_sample),
                       memory_provenance="measured") for b in sizes]


def test_fit_recovers_a_hand_made_line():
    fit = fit_memory(hand_points(static=3 * GIB, per_sample=200 * MIB))
    assert fit.static_bytes == pytest.approx(3 * GIB, rel=1e-9)
    assert fit.per_sample_bytes == pytest.approx(200 * MIB, rel=1e-9)
    assert fit.points_used == 2 and fit.max_relative_residual < 1e-9 and fit.provenance == "fitted"


def test_fit_ignores_the_flat_small_batch_regime():
    # Below B=4 the optimizer step's fixed 1 GiB peak dominates; the line comes from B >= 8.
    points = hand_points(static=GIB // 2, per_sample=64 * MIB, sizes=(8, 16, 32, 64))
    points += [ProbePoint(batch_size=b, status="ok", peak_memory_bytes=GIB, memory_provenance="measured")
               for b in (1, 2, 4)]
    fit = fit_memory(points)
    assert fit.static_bytes == pytest.approx(GIB // 2) and fit.per_sample_bytes == pytest.approx(64 * MIB)


def test_fit_needs_two_batch_sizes():
    assert fit_memory(hand_points(GIB, MIB, sizes=(4,))) is None
    assert fit_memory([]) is None


def test_largest_batch_for_each_memory_size():
    fit = MemoryFit(static_bytes=2 * GIB, per_sample_bytes=100 * MIB, points_used=3, max_relative_residual=0.0)
    got = largest_batch_by_memory(fit, [16 * GIB, 80 * GIB, 2 * GIB], margin=0.1, context_bytes=512 * MIB)
    # floor((C * 0.9 - 0.5 GiB - 2 GiB) / 100 MiB)
    assert got == {16 * GIB: int((16 * 0.9 - 2.5) * 1024 // 100), 80 * GIB: int((80 * 0.9 - 2.5) * 1024 // 100),
                   2 * GIB: 0}


def test_recommended_batch_keeps_the_safety_margin():
    points = hand_points(static=GIB, per_sample=GIB, sizes=(1, 2, 4, 8))  # 2, 3, 5, 9 GiB
    assert recommended_max_batch(points, capacity_bytes=10 * GIB, margin=0.0) == 8
    assert recommended_max_batch(points, capacity_bytes=10 * GIB, margin=0.2) == 4  # 9 GiB > 8 GiB usable
    assert recommended_max_batch(points, capacity_bytes=None, margin=0.1) is None


def test_memory_check_compares_the_fit_with_the_boundary_found():
    points = hand_points(static=GIB, per_sample=GIB, sizes=(1, 2, 4, 8))
    points.append(ProbePoint(batch_size=16, status="oom", reason="CUDA out of memory"))
    fit = fit_memory(points)
    check = memory_check(points, fit, capacity_bytes=12 * GIB)  # the fit says 11 fit, the sweep saw 8 ok
    assert (check.predicted_largest_batch, check.last_ok_batch, check.first_oom_batch) == (11, 8, 16)
    assert check.relative_error == pytest.approx(3 / 8)
    assert check.boundary_provenance == "measured"


def test_flat_measured_peaks_are_extended_by_traces_of_larger_batches():
    from planner.probe import ProbeConfig, run_probe
    from tests.probe.probe_factories import REF, wide_linear

    report = run_probe(ProbeConfig(model=f"{REF}wide_linear", device="cpu", max_batch=4, plateau_gain=-1,
                                   warmup_steps=1, timed_steps=1))
    ok = [p for p in report.ok_points()]
    assert ok[-1].peak_memory_bytes < 2 * ok[0].peak_memory_bytes  # the flat regime this is about
    fit = report.memory_fit
    assert fit is not None and fit.provenance == "predicted"
    assert any("fake-tensor traces" in w for w in report.warnings)
    # the line through the traces extrapolates: check it against a trace of a batch 4x further
    far = 4 * int(fit.static_bytes / fit.per_sample_bytes)
    traced = predict_step_peak(wide_linear(), far, CPU, "fp32", "torch")
    assert fit.bytes_at(far) == pytest.approx(traced, rel=0.05)

"""The sweep's stopping rules, refinement, failures and events, on scripted tiny models."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

import planner.probe.sweep
from planner.cli.probe_cmd import _extras
from planner.errors import BadInput, ProbeFailed
from planner.models import load_model
from planner.probe import ProbeEvent, predict_step_peak, run_probe
from tests.probe.probe_factories import REF

REPO = Path(__file__).parents[2]


def statuses(report) -> dict[int, str]:
    return {p.batch_size: p.status for p in report.points}


def test_memory_cap_marks_oom_without_running_and_skips_the_rest(fast_config, scripted_clock):
    # A cap exactly at the traced peak of B=6: B=8 and B=7 are over it, B=6 just fits.
    bundle = load_model(REF + "linear_speedup")
    cap = predict_step_peak(bundle, 6, torch.device("cpu"), "fp32", "torch")
    report = run_probe(fast_config(REF + "linear_speedup", memory_cap_bytes=cap, max_batch=64,
                                   refine_multiple=1))
    assert report.stop_reason == "oom"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "ok", 6: "ok", 7: "oom", 8: "oom",
                                16: "skipped", 32: "skipped", 64: "skipped"}
    for over in (p for p in report.points if p.status == "oom"):
        assert over.step_time_s is None  # predicted over the cap, never run
        assert over.memory_provenance == "predicted" and over.peak_memory_bytes > cap
        assert "cap (not run)" in over.reason
    assert all(p.peak_memory_bytes <= cap for p in report.ok_points())
    assert report.device.memory_source == "cap" and report.device.memory_bytes == cap
    assert report.memory_check.boundary_provenance == "predicted"
    assert report.memory_check.last_ok_batch == 6 and report.memory_check.first_oom_batch == 7


def test_stops_at_max_batch(fast_config, scripted_clock):
    report = run_probe(fast_config(REF + "linear_speedup", max_batch=8))
    assert report.stop_reason == "max-batch"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "ok", 8: "ok"}
    point = report.points[1]
    assert point.timed_steps == 2 and point.step_time_s == 0.02
    assert point.samples_per_s == pytest.approx(2 / 0.02)


def test_max_batch_that_is_not_a_power_of_two_is_the_last_point(fast_config, scripted_clock):
    report = run_probe(fast_config(REF + "linear_speedup", max_batch=6))
    assert [p.batch_size for p in report.points] == [1, 2, 4, 6]


def test_plateau_stops_the_doubling_after_two_flat_doublings_on_a_gpu(fast_config, gpu_clock):
    events: list[ProbeEvent] = []
    report = run_probe(fast_config(REF + "plateau_at_8", max_batch=64), on_event=events.append)
    assert report.stop_reason == "plateau"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "ok", 8: "ok", 16: "ok", 32: "skipped", 64: "skipped"}
    assert "plateau" in report.points[-1].reason and "2 doublings in a row" in report.points[-1].reason
    assert [e.kind for e in events].count("plateau") == 1


def test_oom_then_binary_refinement_to_the_multiple(fast_config, scripted_clock):
    report = run_probe(fast_config(REF + "oom_above_20", refine_multiple=4, max_batch=64))
    assert report.stop_reason == "oom"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "ok", 8: "ok", 16: "ok", 20: "ok", 24: "oom", 32: "oom",
                                64: "skipped"}
    assert report.points[-3].reason == "CUDA out of memory"
    check = report.memory_check
    assert (check.last_ok_batch, check.first_oom_batch) == (20, 24)


def test_no_refinement_without_an_oom(fast_config, gpu_clock):
    report = run_probe(fast_config(REF + "plateau_at_8", refine_multiple=1))
    assert all(p.batch_size & (p.batch_size - 1) == 0 for p in report.points)  # powers of two only


def test_a_failing_batch_keeps_earlier_points(fast_config, scripted_clock):
    report = run_probe(fast_config(REF + "batch_fails_from_8", max_batch=32))
    assert report.stop_reason == "error"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "ok", 8: "error", 16: "skipped", 32: "skipped"}
    assert report.points[3].reason == "ValueError: scripted data failure"


def test_keyboard_interrupt_returns_the_partial_report(fast_config, scripted_clock):
    report = run_probe(fast_config(REF + "interrupted_at_4"))
    assert report.stop_reason == "interrupted"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "skipped"}


def test_cancel_event_stops_after_the_current_point(fast_config, scripted_clock):
    cancel = threading.Event()

    def on_event(event: ProbeEvent) -> None:
        if event.kind == "point-done" and event.batch_size == 2:
            cancel.set()

    report = run_probe(fast_config(REF + "linear_speedup", max_batch=64), on_event=on_event, cancel=cancel)
    assert report.stop_reason == "cancelled"
    assert statuses(report) == {1: "ok", 2: "ok", 4: "skipped"}


def test_nothing_measured_is_probe_failed(fast_config):
    with pytest.raises(ProbeFailed, match="scripted model failure"):
        run_probe(fast_config(REF + "fails_always"))


def test_non_scalar_loss_is_bad_input(fast_config):
    with pytest.raises(BadInput, match=r"0-d tensor, got \(1,\)"):
        run_probe(fast_config(REF + "non_scalar_loss"))


def test_time_limit_skips_the_point_that_would_overrun(fast_config):
    # Steps of at least 50 ms, 3 per point and a fake-tensor trace: 4 s, setup included (up to 3 s in a fresh
    # process: the first FLOP count, the kernels' imports), leave room for a few points, not 10.
    report = run_probe(fast_config(REF + "sleepy", time_limit_s=4.0, max_batch=2**10, plateau_gain=-1))
    assert report.stop_reason == "time-limit"
    assert report.points[-1].status == "skipped" and "time limit" in report.points[-1].reason
    assert 1 <= len(report.ok_points()) < 10


def test_events_drive_a_progress_bar(fast_config, scripted_clock):
    events: list[ProbeEvent] = []
    run_probe(fast_config(REF + "linear_speedup", max_batch=4), on_event=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert kinds.count("point-started") == kinds.count("point-done") == 3
    assert events[-1].fraction_done == 1.0
    assert all(0 <= e.fraction_done <= 1 for e in events)
    assert [e.elapsed_s for e in events] == sorted(e.elapsed_s for e in events)
    done = [e for e in events if e.kind == "point-done"]
    assert [e.point.batch_size for e in done] == [1, 2, 4]


def test_report_records_settings_software_and_provenance(fast_config):
    report = run_probe(fast_config("gpt-tiny", max_batch=2, precision="bf16", kernels="triton", safety_margin=0.2))
    assert report.settings.precision == "bf16"
    assert report.settings.kernels == "torch"  # no CUDA: FusedAdamW ran its torch reference
    assert report.settings.optimizer == "kernels.FusedAdamW (torch)"
    assert any("torch reference" in w for w in report.warnings)
    assert report.settings.safety_margin == 0.2
    assert report.software.torch and report.software.batchfit
    assert report.model.data.kind == "real" and "stdlib" in report.model.data.source
    assert report.model.flops_provenance == "measured" and report.model.flops_per_sample > 0
    # gpt-tiny is causal: attention is counted apart, a part of the total and not all of it
    assert 0 < report.model.attention_flops_per_sample < report.model.flops_per_sample
    flops_line = next(line for line in _extras(report) if line.startswith("FLOPs/sample"))
    assert f"attention {report.model.attention_flops_per_sample:.3g}" in flops_line
    assert all(p.memory_provenance == "measured" and p.achieved_tflops > 0 for p in report.ok_points())
    # at B <= 2 gpt-tiny's peak is the optimizer step's: the line comes from traces of larger batches
    assert report.memory_fit.provenance == "predicted"
    assert any("fake-tensor traces" in w for w in report.warnings)
    usable = 0.8 * report.device.memory_bytes
    assert report.recommended_max_batch == max(p.batch_size for p in report.ok_points()
                                               if p.peak_memory_bytes <= usable)


def test_isolated_worker_relays_bad_input(fast_config, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the worker imports tests.probe.probe_factories too
    monkeypatch.setattr(planner.probe.sweep, "predict_step_peak", lambda *args: None)  # leave the check to the worker
    with pytest.raises(BadInput, match="0-d tensor"):
        run_probe(fast_config(REF + "non_scalar_loss", isolate=True))


def test_a_factory_failing_in_the_worker_is_that_point_s_error(fast_config, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    message = r"B=1 failed: loading the model failed: .*raised RuntimeError: scripted factory failure"
    with pytest.raises(ProbeFailed, match=message):
        run_probe(fast_config(REF + "fails_in_worker", isolate=True))


def test_isolated_points_run_in_a_subprocess(fast_config):
    report = run_probe(fast_config("gpt-tiny", max_batch=1, isolate=True))
    assert report.settings.isolate
    (point,) = report.points
    assert point.status == "ok" and point.memory_provenance == "measured"
    assert point.predicted_memory_bytes == point.peak_memory_bytes  # parent's trace, worker's measurement

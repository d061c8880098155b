"""The sweep on a noisy machine: no throughput stop on a CPU; on a GPU, suspect gains are timed
again, one flat doubling is not a plateau, and each point records its dispersion."""

from __future__ import annotations

import pytest
import torch

import planner.probe.point
from planner.contracts.probe import ProbePoint
from planner.probe import ProbeEvent, run_probe
from planner.probe.plateau import Plateau, why_suspect
from tests.probe.probe_factories import REF


def messages(events: list[ProbeEvent]) -> list[str]:
    return [e.text for e in events if e.kind == "message"]


def test_a_cpu_sweep_ignores_a_noisy_negative_gain_and_reaches_max_batch(fast_config, scripted_clock):
    events: list[ProbeEvent] = []
    report = run_probe(fast_config(REF + "noisy_once_at_4", max_batch=16), on_event=events.append)
    assert report.stop_reason == "max-batch"
    assert [p.batch_size for p in report.ok_points()] == [1, 2, 4, 8, 16]
    at_4 = report.points[2]
    assert at_4.step_time_s == 0.5 and at_4.measurements == 1  # kept as timed: a CPU timing decides nothing
    assert any(m.startswith("no throughput-plateau stop on a CPU") for m in messages(events))
    assert not any("timing again" in m for m in messages(events))


def test_on_a_gpu_clock_the_negative_gain_is_timed_again_and_the_faster_timing_stands(fast_config, gpu_clock):
    events: list[ProbeEvent] = []
    report = run_probe(fast_config(REF + "noisy_once_at_4", max_batch=16), on_event=events.append)
    assert report.stop_reason == "max-batch"
    at_4 = next(p for p in report.points if p.batch_size == 4)
    assert at_4.measurements == 2 and at_4.step_time_s == pytest.approx(0.0204)
    assert at_4.samples_per_s == pytest.approx(4 / 0.0204)
    assert [m for m in messages(events) if "timing again" in m] == [
        "B=4: timing again (throughput fell -92% as the batch doubled)"]
    assert all(p.measurements == 1 for p in report.points if p.batch_size != 4)


def test_one_flat_doubling_is_not_a_plateau(fast_config, gpu_clock):
    report = run_probe(fast_config(REF + "one_flat_doubling", max_batch=16))
    assert report.stop_reason == "max-batch"
    assert [p.batch_size for p in report.ok_points()] == [1, 2, 4, 8, 16]


def test_a_gpu_point_is_timed_for_the_stated_seconds_and_records_its_dispersion(fast_config, gpu_clock, monkeypatch):
    # linear_speedup: 20 ms a step; 0.1 s of step time needs 5 steps, more than timed_steps = 2.
    report = run_probe(fast_config(REF + "linear_speedup", max_batch=2, min_timed_s=0.1))
    assert all(p.timed_steps == 5 for p in report.ok_points())
    assert report.settings.min_timed_s == 0.1
    assert all(p.step_time_spread == 0.0 for p in report.ok_points())  # scripted: every step alike

    times = iter([0.01, 0.02, 0.03, 0.04, 0.05] * 10)
    monkeypatch.setattr(planner.probe.point, "_one_step_seconds", lambda step, batch: (step.run(batch), next(times))[1])
    point = run_probe(fast_config(REF + "linear_speedup", max_batch=1, timed_steps=5)).points[0]
    assert point.step_time_s == 0.03 and point.step_time_spread == pytest.approx((0.04 - 0.02) / 0.03)


def test_suspect_gains_and_the_two_doubling_rule():
    def point(b: int, step_s: float, spread: float = 0.0) -> ProbePoint:
        return ProbePoint(batch_size=b, status="ok", step_time_s=step_s, samples_per_s=b / step_s,
                          step_time_spread=spread)

    assert why_suspect(point(4, 0.05), point(2, 0.02)) == "throughput fell -20% as the batch doubled"
    assert why_suspect(point(4, 0.009), point(2, 0.02)) == "throughput grew +344% as the batch doubled"
    assert why_suspect(point(4, 0.03, spread=0.4), point(2, 0.02)) == "B=4's steps spread 40% of their median"
    assert why_suspect(point(4, 0.03), point(2, 0.02)) is None
    rule = Plateau(0.05)
    assert rule.observe(point(4, 0.04), point(2, 0.02)) is None  # one flat doubling
    assert rule.observe(point(8, 0.05), point(4, 0.04)) is None  # +60%: the count starts over
    assert rule.observe(point(16, 0.1), point(8, 0.05)) is None
    assert rule.observe(point(32, 0.2), point(16, 0.1)).startswith("plateau: B=32 gained +0.0% over B=16")
    assert Plateau(-1).observe(point(4, 0.04), point(2, 0.02)) is None


def test_a_busy_cpu_is_probed_with_one_thread_and_the_report_says_so(monkeypatch):
    from planner.probe import device

    threads = torch.get_num_threads()
    monkeypatch.setattr(device.os, "cpu_count", lambda: 2)
    try:
        torch.set_num_threads(2)
        monkeypatch.setattr(device.os, "getloadavg", lambda: (1.5, 1.0, 1.0))
        assert device.one_thread_if_busy() is None and torch.get_num_threads() == 2
        monkeypatch.setattr(device.os, "getloadavg", lambda: (9.6, 9.0, 8.0))
        line = device.one_thread_if_busy()
        assert line == ("the CPU is busy (load average 9.6 on 2 cores): probed with 1 torch thread, not 2; "
                        "its timings are this busy machine's")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)

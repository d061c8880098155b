"""Measure one batch size: warm up, read the peak memory, time the steps.

Timing: warm-up steps first (first-touch allocation, kernel compilation, optimizer state),
then at least `timed_steps` steps and -- where throughput decides the sweep (a GPU) -- at least
`min_timed_s` seconds of them (a 2 ms step timed 5 times is 10 ms: one hiccup moves its
median), each timed alone -- CUDA events on a GPU,
perf_counter on a CPU -- reported as median with min, max and (q75 - q25) / median. Memory: torch.cuda.max_memory_allocated on a GPU; on a
CPU the traced peak of live tensor bytes during the last warm-up step, checked against the cap.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time

import torch

from planner.contracts.probe import ProbePoint
from planner.contracts.probe_config import ProbeConfig
from planner.errors import BadInput
from planner.models.messages import one_line
from planner.probe import plateau as throughput
from planner.probe.memtrace import traced_step_peak
from planner.probe.step import TrainStep

MIB = 2**20


class Cancelled(Exception):
    """The cancel event was set while a point ran; the point is dropped, the sweep stops."""


def measure_point(step: TrainStep, batch_size: int, config: ProbeConfig, cap_bytes: int | None,
                  cancel: threading.Event | None = None, deadline: float | None = None) -> ProbePoint:
    """One point, in this process. OOM and model errors become the point's status, never raise;
    BadInput (a user mistake such as a non-scalar loss), Cancelled and KeyboardInterrupt do.
    `deadline` (time.perf_counter()): the probe's end, where the timed steps stop after at least one."""
    batch = None
    try:
        batch = step.bundle.make_batch(batch_size, step.device)
        peak = _warm_up(step, batch, config.warmup_steps)
        if cap_bytes is not None and peak is not None and peak > cap_bytes:
            reason = f"measured peak {peak / MIB:.0f} MiB is over the {cap_bytes / MIB:.0f} MiB memory cap"
            return ProbePoint(batch_size=batch_size, status="oom", peak_memory_bytes=peak,
                              memory_provenance="measured", reason=reason)
        times = _timed_steps(step, batch, config, cancel, deadline)
        if step.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(step.device)
    except (BadInput, Cancelled):
        raise
    except SystemExit as exc:  # the user's make_batch or loss called sys.exit: this point's error, not batchfit's end
        return ProbePoint(batch_size=batch_size, status="error", reason=f"the model's code called sys.exit({exc.code!r})")
    except torch.cuda.OutOfMemoryError:
        return ProbePoint(batch_size=batch_size, status="oom", reason="CUDA out of memory",
                          memory_provenance="measured")
    except Exception as exc:
        if "can't allocate memory" in str(exc):  # the CPU allocator ran out of RAM
            return ProbePoint(batch_size=batch_size, status="oom", reason=one_line(exc), memory_provenance="measured")
        return ProbePoint(batch_size=batch_size, status="error", reason=one_line(exc))
    finally:
        del batch
        _free(step)
    median = statistics.median(times)
    quartiles = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else None
    return ProbePoint(
        batch_size=batch_size,
        status="ok",
        step_time_s=median,
        step_time_min_s=min(times),
        step_time_max_s=max(times),
        timed_steps=len(times),
        step_time_spread=(quartiles[2] - quartiles[0]) / median if quartiles and median > 0 else None,
        samples_per_s=batch_size / median,
        peak_memory_bytes=peak,
        memory_provenance="measured" if peak is not None else None,
    )


def _warm_up(step: TrainStep, batch, steps: int) -> int | None:
    """Run the warm-up steps; the last one yields the peak memory on a CPU (None on CUDA,
    whose counter is reset here and read after the timed steps)."""
    for _ in range(steps - 1):
        step.run(batch)
    if step.device.type == "cuda":
        step.synchronize()
        torch.cuda.reset_peak_memory_stats(step.device)
        step.run(batch)
        return None
    return traced_step_peak(step, batch)


def _timed_steps(step: TrainStep, batch, config: ProbeConfig, cancel: threading.Event | None,
                 deadline: float | None) -> list[float]:
    """Seconds per step: timed_steps of them and (on a GPU) min_timed_s of step time; stops early
    (after at least one) past the point's time limit, or where the next step would end past `deadline`."""
    times: list[float] = []
    floor_s = config.min_timed_s if throughput.throughput_decides(step.device) else 0.0
    began = time.perf_counter()
    while len(times) < config.timed_steps or sum(times) < floor_s:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if times and time.perf_counter() - began > config.point_time_limit_s:
            break
        if times and deadline is not None and time.perf_counter() + times[-1] > deadline:
            break
        times.append(_one_step_seconds(step, batch))
    return times


def _one_step_seconds(step: TrainStep, batch) -> float:
    if step.device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        step.synchronize()
        start.record()
        step.run(batch)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3  # elapsed_time is in milliseconds
    began = time.perf_counter()
    step.run(batch)
    return time.perf_counter() - began


def _free(step: TrainStep) -> None:
    """Give back what a point held (gradients, cached blocks) before the next one, OOM or not."""
    step.release_grads()
    gc.collect()
    if step.device.type == "cuda":
        torch.cuda.empty_cache()

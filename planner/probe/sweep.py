"""The probe sweep: batch sizes in powers of two until memory, time or throughput says stop.

1. From `start_batch`, double while each point fits: stop at the first OOM, at `max_batch`,
   at the time limit, or -- on a GPU only -- once two doublings in a row gain less than
   `plateau_gain` throughput (plateau). A CPU never stops on throughput: its timings never feed
   a GPU prediction, and a shared machine's timing noise (step times of one point from 27 ms to
   1.6 s) made single negative "gains" end three of four CPU sweeps. On a GPU a gain that is
   negative or implausible (more than doubled), or a point whose steps spread widely, is timed
   again before it counts.
2. After an OOM only, bisect between the last size that fit and the first that did not, down
   to a multiple of `refine_multiple`.
3. Fit M(B) = M_static + B * m_sample, recommend the largest ok batch that leaves
   `safety_margin` of the memory free, and check the fit against the boundary found.
4. When asked: the step under DDP on `nproc` ranks at that batch (ddp.py), then `noise_steps`
   training steps measuring the gradient noise scale at a B_small of its own (noise.py).

The time limit counts from the probe's start, setup (model build, FLOP count) included, and
bounds every phase: each one stops itself before it would overrun, and the whole probe runs in a
worker thread (planner/deadline.py) that is abandoned once the limit x 1.1 or the limit + the
longest step, whichever is later, has passed -- a user's loader that blocks forever then costs the
phase it hung in, not the report.

On a CPU a memory cap stands in for device memory: each point's peak is first predicted on
fake tensors and a point over the cap is marked `oom` without allocating it. Every finished
point is logged at once; an interrupted sweep returns what it measured, and `resume` picks up
from the log. Sizes the sweep did not reach are listed as `skipped` with the reason.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from planner.contracts.probe import (
    DataInfo,
    DdpMeasurement,
    MemoryFit,
    ModelInfo,
    NoiseScale,
    ProbePoint,
    ProbeReport,
    ProbeSettings,
)
from planner import interrupts
from planner.deadline import StopWhy, Watch, run_watched
from planner.errors import BadInput, ProbeFailed
from planner.plan.memory import fit_line, fit_memory, memory_check, recommended_max_batch
from planner.models.messages import one_line
from planner.models.registry import load_model
from planner.contracts.probe_config import EventKind, ProbeConfig, ProbeEvent
from planner.probe.ddp import check_ddp, ddp_phase
from planner.probe.device import (
    default_memory_cap,
    device_info,
    one_thread_if_busy,
    resolve_device,
    software_info,
)
from planner.probe.flops import FlopCount, count_flops
from planner.probe.memtrace import predict_step_peak
from planner.probe.noise import choose_b_small, noise_phase
from planner.probe import plateau as throughput
from planner.probe.point import MIB, Cancelled, measure_point
from planner.probe.pointlog import PointLog
from planner.probe.step import TrainStep, optimizer_choice
from planner.probe.trace_bundle import state_bytes, trace_bundle
from planner.probe.worker import run_isolated

EventSink = Callable[[ProbeEvent], None]

# The memory line is read where activations set the peak: at least twice the smallest point's.
ACTIVATIONS_DOMINATE = 2.0
MAX_TRACED_BATCH = 1 << 16
SETUP_SHARE_WARNED = 0.5  # setup taking more than this share of the time limit is a warning


def run_probe(config: ProbeConfig, on_event: EventSink | None = None,
              cancel: threading.Event | None = None, began: float | None = None) -> ProbeReport:
    """Sweep batch sizes of one model on the local device and report what was measured.

    Ctrl-C or `cancel` end the sweep early with the points measured so far (stop_reason
    "interrupted" / "cancelled"). `began` (time.perf_counter()) is when the caller started the
    probe, if before this call: the time limit counts from there. Raises BadInput for a wrong
    model reference, data or option, and ProbeFailed when the sweep ended without a single ok point.
    """
    watch = Watch(time.perf_counter() if began is None else began, config.time_limit_s)
    built: list[_Sweep] = []

    def probe() -> ProbeReport:
        if config.trace_only:
            watch.phase = "the trace on fake tensors"
            return _traced(config, "--trace-only", on_event)
        sweep = _Sweep(config, on_event, cancel, watch)
        built.append(sweep)
        why = sweep.cannot_fit()
        if why is not None:
            watch.phase = "the trace on fake tensors"
            return _traced(config, why, on_event, sweep)
        return sweep.run()

    def stopped(why: StopWhy) -> ProbeReport:
        if built:
            return built[0].stopped_report(why)
        if why == "interrupted":
            raise interrupts.Terminated() if interrupts.received() == signal.SIGTERM else KeyboardInterrupt()
        happened = "ran out" if why == "time-limit" else "was cancelled"
        raise ProbeFailed(f"the {config.time_limit_s:g} s time limit {happened} during {watch.phase}, before any "
                          "batch size ran" + ("; give a longer --time-limit" if why == "time-limit" else ""))

    return run_watched(probe, watch, stopped, cancel)


def _traced(config: ProbeConfig, why: str, on_event: EventSink | None, sweep: _Sweep | None = None) -> ProbeReport:
    """The traced report instead of a sweep; the reason is said on the event stream (stderr) too."""
    if on_event is not None:
        on_event(ProbeEvent(kind="message", text=f"tracing {config.model} on fake tensors, no real step: {why}",
                            elapsed_s=0.0, fraction_done=0.0))
    report = trace_bundle(config, why, sweep.bundle if sweep else None)
    if on_event is not None:
        on_event(ProbeEvent(kind="done", text=report.stop_reason, elapsed_s=report.trace.seconds if report.trace else 0.0,
                            fraction_done=1.0))
    return report


@dataclass
class _Stop:
    reason: str  # the report's stop_reason
    detail: str  # one line for the UI and for the skipped points
    skipped: list[int] = field(default_factory=list)  # sizes the sweep would have run next


class _Sweep:
    def __init__(self, config: ProbeConfig, on_event: EventSink | None, cancel: threading.Event | None,
                 watch: Watch):
        self.config = config
        self.on_event = on_event
        self.cancel = cancel
        self.watch = watch
        self.began = watch.began
        self.warnings: list[str] = []
        self.points: dict[int, ProbePoint] = {}
        self.current: int | None = None  # the size being measured, for an interruption's record
        self.last_cost: tuple[int, float] | None = None  # (batch, wall seconds) of the last measured point
        self.done_said = False  # the "done" event was sent: the report (memory traces) is being built

        self.device = resolve_device(config.device)
        check_ddp(config.nproc, self.device)
        self.noise_scale: NoiseScale | None = None
        self.ddp: DdpMeasurement | None = None
        self.cap = (config.memory_cap_bytes or default_memory_cap()) if self.device.type == "cpu" else None
        busy = one_thread_if_busy() if self.device.type == "cpu" and not config.isolate else None
        if busy:
            self.warnings.append(busy)
        self.bundle = load_model(config.model, seq_len=config.seq_len, checkpointing=config.checkpointing,
                                 data=config.data)
        self.kernels_ran, self.optimizer_name = optimizer_choice(self.device, config.kernels)
        if config.kernels == "triton" and self.kernels_ran != "triton":
            self.warnings.append("Triton kernels need CUDA: kernels.FusedAdamW ran its torch reference")
        # In isolate mode the parent never touches the device: the workers own it.
        self.step = None if config.isolate else TrainStep(self.bundle, self.device, config.precision, config.kernels)
        self.trace_memory = self.device.type == "cpu" or not config.isolate
        self.device_info = device_info(self.device, config.precision, self.cap)
        self.software = software_info()  # imports triton: in the setup, not while a stopped report is built
        self.model_info = self._model_info()
        self.log = PointLog(config.log_path, self._fingerprint(), config.resume, config.fresh) if config.log_path else None
        if self.log and self.log.previous:
            self.warnings.append(f"resumed {len(self.log.previous)} point(s) from {config.log_path}")
        self.setup_s = watch.elapsed()  # model build, FLOP count, data: counted against the limit
        if self.setup_s > SETUP_SHARE_WARNED * config.time_limit_s:
            self.warnings.append(f"setup (model build, FLOP count) took {self.setup_s:.1f} s of the "
                                 f"{config.time_limit_s:g} s time limit; a longer --time-limit leaves the sweep more")

    def cannot_fit(self) -> str | None:
        """Why no step can run within the memory (weights + gradients + AdamW state, or the first
        point's traced peak, over it), or None when the first point may fit."""
        capacity = self.cap or self.device_info.memory_bytes
        if capacity is None:
            return None
        states = state_bytes(self.bundle)
        if states > capacity:
            return (f"weights, gradients and optimizer state alone take {states / MIB:,.0f} MiB, "
                    f"over the {capacity / MIB:,.0f} MiB memory")
        first = self._predict(self.config.start_batch)
        if first is not None and first > capacity:
            return (f"the first point (batch {self.config.start_batch}) peaks at {first / MIB:,.0f} MiB, "
                    f"over the {capacity / MIB:,.0f} MiB memory")
        return None

    # -- the sweep ---------------------------------------------------------------------------

    def run(self) -> ProbeReport:
        self._emit("started", text=f"{self.bundle.id} on {self.device_info.name} ({self.config.precision})")
        self._emit("message", text=f"setup (model build, FLOP count) took {self.setup_s:.1f} s of the "
                                   f"{self.config.time_limit_s:g} s time limit")
        try:
            stop = self._grow()
            if stop.reason == "oom":
                stop = self._refine() or stop
        except KeyboardInterrupt:
            stop = _Stop("interrupted", "interrupted (Ctrl-C)", self._unfinished())
        except Cancelled:
            stop = _Stop("cancelled", "cancelled by the caller", self._unfinished())
        self._skip(stop)
        if stop.reason not in ("interrupted", "cancelled") and interrupts.received() is None:
            self._after_sweep()
        self._emit("done", text=stop.detail)
        self.done_said = True
        return self._report(stop)

    def stopped_report(self, why: StopWhy) -> ProbeReport:
        """The report of a probe that planner.deadline stopped waiting for (it hung, or overran its
        bound): the points recorded so far, a warning naming the phase, no further memory traces
        (they run the user's code). Called with Watch.lock held: the worker records nothing more."""
        where, elapsed, limit = self.watch.phase, self.watch.elapsed(), self.config.time_limit_s
        if why == "time-limit":
            detail = f"time limit: {where} was still running {elapsed:.1f} s into the {limit:g} s limit"
            self.warnings.append(f"{detail}; abandoned it, the report holds what was measured before")
        elif why == "interrupted":
            detail = f"interrupted ({interrupts.name()}) during {where}, which did not return"
        else:
            detail = f"cancelled during {where}, which did not return"
        stop = _Stop(why, detail, self._unfinished())
        self._skip(stop)
        if not self.done_said:
            self._emit("done", text=detail)
        return self._report(stop, trace_memory=False)

    def _skip(self, stop: _Stop) -> None:
        for size in stop.skipped:
            if size not in self.points:
                self.points[size] = ProbePoint(batch_size=size, status="skipped", reason=f"not run ({stop.detail})")

    def _after_sweep(self) -> None:
        """The DDP probe at the batch the sweep recommends (else its smallest ok one), then the
        noise-scale steps at B_small = choose_b_small(the largest batch that fits, ...). They run
        in the parent even in isolate mode: no point is left to protect from the allocator. The
        probe's time limit bounds the noise steps."""
        ok = [p for p in self.points.values() if p.status == "ok"]
        if not ok or (self.cancel is not None and self.cancel.is_set()):
            return
        c = self.config
        batch = (recommended_max_batch(ok, self.device_info.memory_bytes, c.safety_margin)
                 or min(p.batch_size for p in ok))
        deadline = self.began + c.time_limit_s  # perf_counter time

        def say(text: str) -> None:
            self._emit("message", text=text)

        if c.nproc > 1:
            self.watch.phase = f"the DDP phase (batch {batch} per rank)"
            self._release_device()  # rank 0 runs on this process's device
            self.ddp, warnings = ddp_phase(c, self.device, batch, time.time() + deadline - time.perf_counter(),
                                           self.cancel, say)
            self.warnings += warnings
        if c.noise_steps and not (self.cancel is not None and self.cancel.is_set()) and interrupts.received() is None:
            self.step = self.step or TrainStep(self.bundle, self.device, c.precision, c.kernels)
            fits = (recommended_max_batch(ok, self.device_info.memory_bytes, c.safety_margin)
                    or max(p.batch_size for p in ok))
            b_small = choose_b_small(fits, c.max_batch, c.noise_reference_batch)
            self.watch.phase = f"the noise phase (B_small={b_small})"
            outcome = noise_phase(self.step, c, b_small, deadline, self.cancel, say)
            self.noise_scale = outcome.noise_scale
            self.warnings += outcome.warnings

    def _release_device(self) -> None:
        """Give the GPU's memory back (model, optimizer state, cache) before other processes use it."""
        if self.device.type != "cuda" or self.step is None:
            return
        self.step = None
        self.bundle.model.to("cpu")
        gc.collect()
        torch.cuda.empty_cache()

    def _grow(self) -> _Stop:
        size, previous = self.config.start_batch, None
        plateau = throughput.Plateau(self.config.plateau_gain) if throughput.throughput_decides(self.device) else None
        if plateau is None and self.config.plateau_gain > -1:
            self._emit("message", text="no throughput-plateau stop on a CPU: the sweep grows to max_batch, "
                                       "memory or the time limit")
        while True:
            if self._time_is_up(size):
                detail = f"time limit: {self.config.time_limit_s:g} s for the whole probe, setup {self.setup_s:.1f} s"
                return _Stop("time-limit", detail, self._doublings(size))
            point = self._point(size)
            if point.status == "oom":
                return _Stop("oom", f"out of memory from B={size}", self._doublings(self._next(size)))
            if point.status == "error":
                return _Stop("error", f"B={size} failed: {point.reason}", self._doublings(self._next(size)))
            if plateau is not None and previous is not None:
                point, previous = self._settled(point, previous)
                flat = plateau.observe(point, previous)
                if flat:
                    self._emit("plateau", batch_size=size, text=flat)
                    return _Stop("plateau", flat, self._doublings(self._next(size)))
            if self.config.max_batch is not None and size >= self.config.max_batch:
                return _Stop("max-batch", f"reached max_batch={self.config.max_batch}")
            size, previous = self._next(size), point

    def _settled(self, point: ProbePoint, previous: ProbePoint) -> tuple[ProbePoint, ProbePoint]:
        """The two points of a doubling, each timed again (once, the newer first) while their
        gain is suspect (plateau.why_suspect)."""
        for newer in (True, False):
            why = throughput.why_suspect(point, previous)
            again = point if newer else previous
            if why is None or again.resumed or self._time_is_up(again.batch_size):
                break
            self._emit("message", text=f"B={again.batch_size}: timing again ({why})")
            if newer:
                point = self._remeasure(point)
            else:
                previous = self._remeasure(previous)
        return point, previous

    def _remeasure(self, point: ProbePoint) -> ProbePoint:
        """The point timed once more; the faster median stands (a busy machine only adds time)."""
        self.watch.phase = f"batch {point.batch_size} (timed again)"
        again = self._measure(point.batch_size)
        if again.status != "ok" or again.step_time_s is None or point.step_time_s is None:
            return point
        faster = again if again.step_time_s < point.step_time_s else point
        kept = ProbePoint.model_validate(faster.model_dump() | {
            "measurements": point.measurements + 1, "predicted_memory_bytes": point.predicted_memory_bytes,
            **self._derived(faster)})
        return self._record(kept, log=True)

    def _refine(self) -> _Stop | None:
        """Bisect between the last ok size and the first oom; a _Stop only if cut short."""
        first_oom = min(b for b, p in self.points.items() if p.status == "oom")
        below = [b for b, p in self.points.items() if p.status == "ok" and b < first_oom]
        if not below:
            return None
        low, high, step = max(below), first_oom, self.config.refine_multiple
        self._emit("message", text=f"refining the memory boundary between B={low} and B={high}")
        while True:
            mid = (low + high) // 2 // step * step
            if mid <= low:
                return None
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled
            if self._time_is_up(mid):
                return _Stop("time-limit", f"time limit: {self.config.time_limit_s:.0f} s, refinement cut short", [mid])
            point = self._point(mid)
            if point.status == "ok":
                low = mid
            elif point.status == "oom":
                high = mid
            else:
                return _Stop("error", f"B={mid} failed during refinement: {point.reason}")

    # -- one point ---------------------------------------------------------------------------

    def _point(self, size: int) -> ProbePoint:
        self.current = size
        self.watch.phase = f"batch {size}"
        if self.log and size in self.log.previous:
            resumed = ProbePoint.model_validate(self.log.previous[size].model_dump() | {"resumed": True})
            return self._record(resumed, log=False)
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled
        self._emit("point-started", batch_size=size)
        began = time.perf_counter()
        predicted = self._predict(size)
        if self.cap is not None and predicted is not None and predicted > self.cap:
            reason = f"predicted peak {predicted / MIB:.0f} MiB is over the {self.cap / MIB:.0f} MiB cap (not run)"
            point = ProbePoint(batch_size=size, status="oom", reason=reason, peak_memory_bytes=predicted,
                               memory_provenance="predicted", predicted_memory_bytes=predicted)
        else:
            measured = self._measure(size)
            point = ProbePoint.model_validate(measured.model_dump() | {"predicted_memory_bytes": predicted,
                                                                       **self._derived(measured)})
        self.last_cost = (size, time.perf_counter() - began)
        return self._record(point, log=True)

    def _measure(self, size: int) -> ProbePoint:
        if self.step is None:
            return run_isolated(self.config, size, self.cap, self.cancel)
        return measure_point(self.step, size, self.config, self.cap, self.cancel, deadline=self.watch.deadline())

    def _predict(self, size: int) -> int | None:
        """The fake-tensor trace of a step at `size` (None where it cannot run; said once)."""
        if not self.trace_memory:
            return None
        try:
            return predict_step_peak(self.bundle, size, self.device, self.config.precision, self.config.kernels)
        except BadInput:
            raise
        except Exception as exc:
            self.trace_memory = False
            self.warnings.append(f"memory trace on fake tensors failed ({one_line(exc)}); "
                                 "points are measured without a prediction")
            return None

    def _derived(self, point: ProbePoint) -> dict:
        flops = self.model_info.flops_per_sample
        if point.samples_per_s is None or not flops:
            return {}
        tflops = flops * point.samples_per_s / 1e12
        peak = self.device_info.peak_tflops
        return {"achieved_tflops": tflops, "mfu": tflops / peak if peak else None}

    def _record(self, point: ProbePoint, log: bool) -> ProbePoint:
        with self.watch.lock:  # held for good once planner.deadline abandons this thread
            self.points[point.batch_size] = point
            if log and self.log:
                self.log.append(point)
        if point.status == "ok" and point.step_time_max_s is not None:
            self.watch.saw_step(point.step_time_max_s)
        self._emit("oom" if point.status == "oom" else "point-done", batch_size=point.batch_size, point=point,
                   text=point.reason or "")
        return point

    # -- schedule and time -------------------------------------------------------------------

    def _next(self, size: int) -> int:
        return size * 2 if self.config.max_batch is None else min(size * 2, self.config.max_batch)

    def _doublings(self, size: int) -> list[int]:
        """The sizes the doubling phase would have run from `size` on (one when unbounded)."""
        top = self.config.max_batch
        if top is None:
            return [size]
        sizes: list[int] = []
        while size <= top and (not sizes or size > sizes[-1]):
            sizes.append(size)
            size = min(size * 2, top)
        return sizes

    def _unfinished(self) -> list[int]:
        return [self.current] if self.current is not None and self.current not in self.points else []

    def _time_is_up(self, size: int) -> bool:
        """True when the sweep's time is spent or the next point would overrun it (its cost
        estimated from the last measured point, in proportion to the batch size)."""
        elapsed = time.perf_counter() - self.began
        if self.log and size in self.log.previous:
            return elapsed >= self.config.time_limit_s
        estimate = 0.0 if self.last_cost is None else self.last_cost[1] * size / self.last_cost[0]
        return elapsed + estimate > self.config.time_limit_s

    # -- events ------------------------------------------------------------------------------

    def _emit(self, kind: EventKind, **fields) -> None:
        if self.on_event is None:
            return
        elapsed = time.perf_counter() - self.began
        fraction = 1.0 if kind == "done" else self._fraction(elapsed)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.on_event(ProbeEvent(kind=kind, elapsed_s=elapsed, fraction_done=fraction, eta_s=eta, **fields))

    def _fraction(self, elapsed: float) -> float:
        """Points done over points expected: the doublings up to max_batch, or up to the size
        the memory model says fits (1024 x start_batch before it has two points), or the
        share of the time limit spent, whichever is further. A plateau can end it sooner."""
        horizon = self.config.max_batch
        fit = fit_memory(self.points.values())
        if horizon is None and fit is not None and self.device_info.memory_bytes:
            horizon = fit.largest_batch(self.device_info.memory_bytes)
        horizon = max(horizon or self.config.start_batch * 2**10, self.config.start_batch)
        expected = 1 + int(math.log2(horizon / self.config.start_batch))
        done = sum(1 for p in self.points.values() if p.status != "skipped")
        return min(0.99, max(done / max(expected, done + 1), elapsed / self.config.time_limit_s))

    # -- the report --------------------------------------------------------------------------

    def _model_info(self) -> ModelInfo:
        params = {id(p): p for p in self.bundle.model.parameters()}.values()
        try:
            # Counted on the CPU: FLOPs depend on shapes only, and the parent of isolated
            # workers must not open a CUDA context of its own.
            count: FlopCount | None = count_flops(self.bundle, torch.device("cpu"))
        except Exception as exc:
            count = None
            self.warnings.append(f"FLOP count failed ({one_line(exc)}); no MFU")
        flops = count.per_sample if count else None
        return ModelInfo(
            id=self.bundle.id,
            params=sum(p.numel() for p in params),
            trainable_params=sum(p.numel() for p in params if p.requires_grad),
            param_tensors=len(params),
            seq_len=self.bundle.seq_len,
            flops_per_sample=flops or None,
            flops_provenance="measured" if flops else None,
            attention_flops_per_sample=count.attention_per_sample if count and flops else None,
            conv_flops_fraction=count.conv_share if count and flops else None,
            data=DataInfo(kind=self.bundle.data_kind, source=self.bundle.data_source),
        )

    def _fingerprint(self) -> dict:
        """The settings that change what a point measures: a log written under others is refused."""
        c = self.config
        return {
            "model": c.model, "seq_len": self.bundle.seq_len, "checkpointing": c.checkpointing,
            "data": str(c.data) if c.data else None, "device": _without_thread_count(self.device_info.name),
            "precision": c.precision, "kernels": self.kernels_ran, "warmup_steps": c.warmup_steps,
            "timed_steps": c.timed_steps, "memory_cap_bytes": self.cap,
        }

    def _memory_model(self, points: list[ProbePoint]) -> MemoryFit | None:
        """The fit of the measured peaks, unless they have not yet grown with the batch.

        At small batches the optimizer step's transient (fp32 states and master copies) can
        set the peak, so the measured line is flat and says nothing about activations; this is
        common on a CPU, where the sweep stays small. Then larger batches are traced on fake
        tensors (no allocation) until activations dominate, and the line goes through those.
        """
        fit = fit_memory(points)
        ok = sorted((p.batch_size, p.peak_memory_bytes) for p in points if p.status == "ok" and p.peak_memory_bytes)
        if not ok or not self.trace_memory or ok[-1][1] >= ACTIVATIONS_DOMINATE * ok[0][1]:
            return fit
        traced: list[tuple[int, int]] = []
        size = ok[-1][0]
        trace_s = 0.0
        try:
            while len(traced) < 2 or traced[-1][1] < ACTIVATIONS_DOMINATE * ok[0][1]:
                size *= 2
                if time.perf_counter() - self.began + trace_s > self.config.time_limit_s:
                    self.warnings.append("memory traces of larger batches stopped at the time limit: "
                                         "fitted on the measured peaks")
                    return fit
                began = time.perf_counter()
                self.watch.phase = f"the memory trace at batch {size}"
                predicted = self._predict(size) if size <= MAX_TRACED_BATCH else None
                trace_s = time.perf_counter() - began  # the next, larger trace takes at least as long
                if predicted is None:
                    return fit
                traced.append((size, predicted))
        except KeyboardInterrupt:
            self.warnings.append("memory traces of larger batches interrupted: fitted on the measured peaks")
            return fit
        self.warnings.append(f"measured peaks did not grow with the batch (the optimizer step sets them); "
                             f"memory fitted on fake-tensor traces at B={', '.join(str(b) for b, _ in traced)}")
        return fit_line(traced[-2:], "predicted")

    def _report(self, stop: _Stop, trace_memory: bool = True) -> ProbeReport:
        points = [self.points[b] for b in sorted(self.points)]
        if not any(p.status == "ok" for p in points) and stop.reason not in ("interrupted", "cancelled"):
            fix = (f"give a longer --time-limit (setup took {self.setup_s:.1f} s)" if stop.reason == "time-limit"
                   else "check the model's loss by hand, or try a smaller model or start batch")
            raise ProbeFailed(f"no batch size ran ({stop.detail}); {fix}")
        c = self.config
        traced = trace_memory and stop.reason not in ("interrupted", "cancelled")
        fit = self._memory_model(points) if traced else fit_memory(points)
        capacity = self.device_info.memory_bytes
        return ProbeReport(
            created_at=dt.datetime.now(dt.timezone.utc),
            device=self.device_info,
            software=self.software,
            model=self.model_info,
            settings=ProbeSettings(
                precision=c.precision, kernels=self.kernels_ran, optimizer=self.optimizer_name,
                max_batch=c.max_batch, time_limit_s=c.time_limit_s, memory_cap_bytes=self.cap,
                warmup_steps=c.warmup_steps, timed_steps=c.timed_steps, plateau_gain=c.plateau_gain,
                min_timed_s=c.min_timed_s, noise_reference_batch=c.noise_reference_batch,
                start_batch=c.start_batch, point_time_limit_s=c.point_time_limit_s,
                refine_multiple=c.refine_multiple, safety_margin=c.safety_margin, isolate=c.isolate,
                activation_checkpointing=c.checkpointing, noise_steps=c.noise_steps, nproc=c.nproc,
                noise_train_steps=c.noise_train_steps, noise_target_loss=c.noise_target_loss,
            ),
            points=points,
            stop_reason=stop.reason,
            memory_fit=fit,
            memory_check=memory_check(points, fit, capacity),
            recommended_max_batch=recommended_max_batch(points, capacity, c.safety_margin),
            noise_scale=self.noise_scale,
            ddp=self.ddp,
            warnings=self.warnings,
            interrupted=stop.reason in ("interrupted", "cancelled") or interrupts.received() is not None,
        )


def _without_thread_count(device_name: str) -> str:
    """'EPYC (2 threads)' -> 'EPYC': a busy CPU probes with one thread (device.one_thread_if_busy), and the
    load may differ between a killed run and its --resume, which must still match the log."""
    return re.sub(r" \(\d+ threads?\)$", "", device_name)

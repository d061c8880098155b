"""Compute-efficiency priors fitted on public per-GPU training throughput, and their cross-GPU error.

Each row of `pricing/throughput.csv` is read through the planner's step-time model solved for
its efficiency: a step of B samples takes fixed + B * F / (peak * e), so a published throughput
gives e = B * F / (peak * (B / throughput - fixed)); F is FLOPs/sample from our own trace of the
same shape, fixed the optimizer's memory traffic (`step_time.optimizer_seconds`).

The efficiency model, in log space (least squares over the rows, deterministic):
    ln e = a[op] + b[class] * ln(R / R0) + ln h[source]
- op: matmul or conv (a row is conv when most of its FLOPs are);
- R = peak / bandwidth, the GPU's ridge point in FLOP/byte (R0 = 150). A GPU whose tensor cores
  outgrow its memory spends a larger share of an eager step on memory-bound work, so its
  efficiency falls with R; -1 is the fully memory-bound limit (time then scales with bandwidth
  alone) and 0 the compute-bound one, so each slope is kept inside [-1, 0];
- class: `eager` (the planner's own harness: plain PyTorch steps, and the `layer` rows) or
  `tuned` (fused kernels, CUDA graphs, FSDP), which leave less memory-bound work;
- h: one factor per source that is not `eager` (its kernels, FLOP convention, parallelism);
  eager sources have none, so they fix the level the planner predicts.
Host-bound rows (eager, batch 1) fit the host floor instead: seconds per parameter tensor.
Only tensor-core precisions (bf16, fp16) are fitted; fp32 rows stay in the data unused.

Leave one source out: refit without the source, anchor its harness on its reference GPU (an
A100, or its most common GPU) and predict the other GPUs' throughput ratios to it.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass

import numpy as np

from planner.plan import priors
from planner.plan.throughput_data import ThroughputData, ThroughputRow

RIDGE_REFERENCE = 150.0  # FLOP/byte; near the A100 80GB and V100, so the intercepts read as their efficiencies
HOST_ROW_MAX_BATCH = 1  # eager rows at this batch are host-bound: they fit the host floor
CONV_MAJORITY = 0.5
SLOPE_BOUNDS = (-1.0, 0.0)
FITTED_PRECISIONS = ("bf16", "fp16")


@dataclass(frozen=True)
class EfficiencyModel:
    a: dict[str, float]  # op -> ln efficiency at R0
    b: dict[str, float]  # class -> slope
    h: dict[str, float]  # source -> ln harness factor (eager sources absent: 0)
    b_unclamped: dict[str, float]

    def log_efficiency(self, op: str, slope_class: str, ridge: float, source: str | None = None) -> float:
        return self.a[op] + self.b[slope_class] * math.log(ridge / RIDGE_REFERENCE) + self.h.get(source or "", 0.0)


def op_class(data: ThroughputData, row: ThroughputRow) -> str:
    return "conv" if data.shapes[row.model].conv_fraction > CONV_MAJORITY else "matmul"


def slope_class(row: ThroughputRow) -> str:
    return "tuned" if row.harness == "tuned" else "eager"


def ridge(data: ThroughputData, row: ThroughputRow) -> float:
    gpu = data.gpus[row.gpu]
    return gpu.peak_tflops(row.precision) * 1e12 / (gpu.bandwidth_gbs * 1e9)


def fixed_seconds(data: ThroughputData, row: ThroughputRow) -> float:
    """Once-per-step device work the planner models: the optimizer (none in a `layer` row)."""
    if row.harness == "layer":
        return 0.0
    return priors.optimizer_seconds(data.shapes[row.model].params, data.gpus[row.gpu].bandwidth_gbs)


def is_host_row(row: ThroughputRow) -> bool:
    return row.harness == "eager" and row.batch_per_gpu is not None and row.batch_per_gpu <= HOST_ROW_MAX_BATCH


def fit_rows(data: ThroughputData, exclude: str | None = None) -> list[ThroughputRow]:
    return [r for r in data.rows if r.precision in FITTED_PRECISIONS and not is_host_row(r) and r.source != exclude]


def implied_efficiency(data: ThroughputData, row: ThroughputRow) -> float:
    """e such that the step-time model reproduces the row's throughput (device-bound when no batch)."""
    shape, peak = data.shapes[row.model], data.gpus[row.gpu].peak_tflops(row.precision) * 1e12
    if row.batch_per_gpu is None:
        return shape.flops_per_sample * row.samples_per_s / peak
    device = row.batch_per_gpu / row.samples_per_s - fixed_seconds(data, row)
    if device <= 0:
        raise ValueError(f"throughput.csv line {row.line}: faster than the optimizer step alone; check the figure")
    return row.batch_per_gpu * shape.flops_per_sample / (peak * device)


def predicted_throughput(data: ThroughputData, row: ThroughputRow, log_eff: float) -> float:
    """Samples/s per GPU the step-time model gives for this row's shape, GPU and batch."""
    shape, peak = data.shapes[row.model], data.gpus[row.gpu].peak_tflops(row.precision) * 1e12
    per_sample = shape.flops_per_sample / (peak * math.exp(log_eff))
    if row.batch_per_gpu is None:
        return 1.0 / per_sample
    return row.batch_per_gpu / (fixed_seconds(data, row) + row.batch_per_gpu * per_sample)


def _solve(data: ThroughputData, rows: list[ThroughputRow], fixed_b: dict[str, float]) -> dict[str, float]:
    ops = sorted({op_class(data, r) for r in rows})
    classes = sorted({slope_class(r) for r in rows} - set(fixed_b))
    sources = sorted({r.source for r in rows if r.harness != "eager"})
    names = [f"a:{o}" for o in ops] + [f"b:{c}" for c in classes] + [f"h:{s}" for s in sources]
    col = {n: i for i, n in enumerate(names)}
    design, target = np.zeros((len(rows), len(names))), np.zeros(len(rows))
    for i, r in enumerate(rows):
        x = math.log(ridge(data, r) / RIDGE_REFERENCE)
        design[i, col[f"a:{op_class(data, r)}"]] = 1.0
        if slope_class(r) in fixed_b:
            target[i] = math.log(implied_efficiency(data, r)) - fixed_b[slope_class(r)] * x
        else:
            design[i, col[f"b:{slope_class(r)}"]] = x
            target[i] = math.log(implied_efficiency(data, r))
        if r.harness != "eager":
            design[i, col[f"h:{r.source}"]] = 1.0
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return {n: float(v) for n, v in zip(names, solution)}


def fit_efficiency(data: ThroughputData, exclude: str | None = None,
                   fixed_slopes: dict[str, float] | None = None) -> EfficiencyModel:
    """The least-squares model; a slope outside [-1, 0] is held at the bound it crossed and refitted.
    `fixed_slopes` holds chosen slopes instead (the bench's sensitivity check)."""
    rows = fit_rows(data, exclude)
    fixed: dict[str, float] = dict(fixed_slopes or {})
    solution = _solve(data, rows, fixed)
    unclamped = {**{k[2:]: v for k, v in solution.items() if k.startswith("b:")}, **fixed}
    for cls, slope in sorted(unclamped.items()):
        if not SLOPE_BOUNDS[0] <= slope <= SLOPE_BOUNDS[1]:
            fixed[cls] = min(max(slope, SLOPE_BOUNDS[0]), SLOPE_BOUNDS[1])
    if fixed != (fixed_slopes or {}):
        solution = _solve(data, rows, fixed)
    slopes = {**{k[2:]: v for k, v in solution.items() if k.startswith("b:")}, **fixed}
    return EfficiencyModel(a={k[2:]: v for k, v in solution.items() if k.startswith("a:")}, b=slopes,
                           h={k[2:]: v for k, v in solution.items() if k.startswith("h:")}, b_unclamped=unclamped)


def fit_host_floor(data: ThroughputData) -> tuple[float, list[ThroughputRow]]:
    """Median seconds per parameter tensor over the host-bound rows (1 / throughput at batch 1)."""
    rows = [r for r in data.rows if is_host_row(r)]
    per_tensor = [1.0 / r.samples_per_s / data.shapes[r.model].param_tensors for r in rows]
    return statistics.median(per_tensor), rows


@dataclass(frozen=True)
class RatioError:
    source: str
    model: str
    gpu: str
    reference_gpu: str
    published: float  # throughput ratio gpu / reference_gpu, from the source
    predicted: float  # the same ratio from the model fitted without this source

    @property
    def error(self) -> float:
        return self.predicted / self.published - 1.0


def reference_gpu(rows: list[ThroughputRow]) -> str:
    """The source's A100 with the most rows, else its most common GPU (ties by name)."""
    counts = Counter(r.gpu for r in rows)
    a100 = [g for g in counts if g.startswith("A100")]
    return max(a100 or counts, key=lambda g: (counts[g], g))


def leave_one_source_out(data: ThroughputData, fixed_slopes: dict[str, float] | None = None) -> list[RatioError]:
    out: list[RatioError] = []
    for source in sorted({r.source for r in fit_rows(data)}):
        rows = [r for r in fit_rows(data) if r.source == source]
        if len({r.gpu for r in rows}) < 2:
            continue
        ref, model = reference_gpu(rows), fit_efficiency(data, exclude=source, fixed_slopes=fixed_slopes)
        for name in sorted({r.model for r in rows}):
            by_gpu = {r.gpu: r for r in rows if r.model == name}
            if ref not in by_gpu:
                continue
            anchor = by_gpu[ref]
            # the source's own harness, set so that its reference row is reproduced exactly
            base = model.log_efficiency(op_class(data, anchor), slope_class(anchor), ridge(data, anchor))
            harness = math.log(implied_efficiency(data, anchor)) - base
            for gpu, row in sorted(by_gpu.items()):
                if gpu == ref:
                    continue
                log_eff = model.log_efficiency(op_class(data, row), slope_class(row), ridge(data, row)) + harness
                predicted = predicted_throughput(data, row, log_eff) / predicted_throughput(data, anchor, base + harness)
                out.append(RatioError(source, name, gpu, ref, row.samples_per_s / anchor.samples_per_s, predicted))
    return out

"""How fast one optimizer step runs on a GPU the probe may never have seen.

The measured local step time is fitted as t(B) = fixed + B * per_sample. Each part moves to a
target GPU by its own ceiling:
- per-sample compute: FLOPs/sample over (peak TFLOP/s for the precision x achieved efficiency);
- fixed part: optimizer bytes/param x params over bandwidth, plus host overhead;
- data parallel over n GPUs adds a ring all-reduce, 2(n-1)/n x gradient bytes / link bandwidth,
  partly hidden behind backward.
The efficiency is calibrated from the probe when it ran on a known GPU, else a stated prior.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner import priors
from planner.contracts.probe import ProbePoint, ProbeReport, Provenance
from providers.schema import GpuSpec

GRAD_BYTES_PER_PARAM = 4  # gradients stay fp32 under bf16 autocast


@dataclass(frozen=True)
class LinearStepTime:
    """t(B) = fixed_s + B * per_sample_s, fitted to the measured points."""

    fixed_s: float
    per_sample_s: float
    points: int

    def at(self, batch: float) -> float:
        return self.fixed_s + batch * self.per_sample_s


def fit_step_time(points: list[ProbePoint]) -> LinearStepTime | None:
    """Least-squares line through (batch, median step time); the intercept is kept >= 0."""
    xy = [(p.batch_size, p.step_time_s) for p in points if p.status == "ok" and p.step_time_s]
    if not xy:
        return None
    if len(xy) == 1:
        batch, t = xy[0]
        return LinearStepTime(fixed_s=0.0, per_sample_s=t / batch, points=1)
    n = len(xy)
    mx = sum(x for x, _ in xy) / n
    my = sum(y for _, y in xy) / n
    sxx = sum((x - mx) ** 2 for x, _ in xy)
    slope = sum((x - mx) * (y - my) for x, y in xy) / sxx
    fixed = my - slope * mx
    if fixed < 0 or slope <= 0:
        # Noise at small batches can tip the line; fall back to a line through the origin.
        slope = sum(x * y for x, y in xy) / sum(x * x for x, _ in xy)
        fixed = 0.0
    return LinearStepTime(fixed_s=fixed, per_sample_s=slope, points=n)


@dataclass(frozen=True)
class StepPrediction:
    seconds: float
    compute_s: float
    fixed_s: float
    allreduce_s: float
    provenance: Provenance


class StepTimeModel:
    """Predicts seconds per optimizer step for (GPU, GPUs, micro-batch, accumulation)."""

    def __init__(self, report: ProbeReport, local_gpu: GpuSpec | None, precision: str) -> None:
        self.report = report
        self.precision = precision
        self.params = report.model.params
        self.local_gpu = local_gpu
        self.local_fit = fit_step_time(report.points)
        self.flops_per_sample, self.flops_provenance = self._flops_per_sample()
        self.calibrated_efficiency = self._calibrate()
        self.overhead_s = self._overhead()

    def _flops_per_sample(self) -> tuple[float, Provenance]:
        model = self.report.model
        if model.flops_per_sample:
            return model.flops_per_sample, model.flops_provenance or "measured"
        # Kaplan et al. 2020: about 6 FLOPs per parameter per token for forward + backward.
        return 6.0 * self.params * (model.seq_len or 1), "prior"

    def _calibrate(self) -> float | None:
        """Achieved fraction of the local GPU's ceiling, when the probe ran on a known GPU."""
        if self.local_gpu is None or self.local_fit is None or self.report.device.kind != "cuda":
            return None
        local_peak = self.local_gpu.peak_tflops(self.precision) * 1e12
        return min(1.0, self.flops_per_sample / (self.local_fit.per_sample_s * local_peak))

    def _overhead(self) -> float:
        """Host overhead per step: the measured fixed part minus the optimizer's traffic on a GPU."""
        if self.calibrated_efficiency is None or self.local_gpu is None or self.local_fit is None:
            return priors.STEP_OVERHEAD_S
        return max(0.0, self.local_fit.fixed_s - self._optimizer_s(self.local_gpu))

    def _optimizer_s(self, gpu: GpuSpec) -> float:
        bandwidth = gpu.bandwidth_gbs * 1e9 * priors.BANDWIDTH_EFFICIENCY  # bytes/s
        return self.params * priors.OPTIMIZER_BYTES_PER_PARAM / bandwidth

    def efficiency(self, gpu: GpuSpec) -> tuple[float, Provenance]:
        """Compute efficiency on `gpu`: calibrated from the probe, or the generation's prior."""
        if self.calibrated_efficiency is not None and self.local_gpu is not None:
            if gpu.generation == self.local_gpu.generation:
                return self.calibrated_efficiency, "calibrated"
            # Another generation: carry the measured-to-prior ratio over to its prior.
            local_prior = priors.compute_efficiency(self.local_gpu.generation, self.precision)
            scale = self.calibrated_efficiency / local_prior
            return min(1.0, scale * priors.compute_efficiency(gpu.generation, self.precision)), "calibrated"
        return priors.compute_efficiency(gpu.generation, self.precision), "prior"

    def allreduce_s(self, gpu: GpuSpec, n_gpus: int) -> float:
        """Ring all-reduce of fp32 gradients, the part not hidden behind backward."""
        if n_gpus <= 1:
            return 0.0
        if gpu.link_gbs <= 0:
            raise ValueError(f"{gpu.name} has no GPU-to-GPU link bandwidth in the spec table")
        grad_bytes = self.params * GRAD_BYTES_PER_PARAM
        seconds = 2 * (n_gpus - 1) / n_gpus * grad_bytes / (gpu.link_gbs * 1e9)
        return seconds * (1 - priors.ALLREDUCE_OVERLAP)

    def predict(self, gpu: GpuSpec, n_gpus: int, micro_batch: int, accumulation: int) -> StepPrediction:
        """One optimizer step: `accumulation` micro-batches of `micro_batch` on each of n GPUs."""
        if self._is_local(gpu) and self.local_fit is not None and n_gpus == 1:
            compute = self.local_fit.per_sample_s * micro_batch * accumulation
            fixed = self.local_fit.fixed_s
            measured = any(p.batch_size == micro_batch for p in self.report.ok_points())
            return StepPrediction(compute + fixed, compute, fixed, 0.0, "measured" if measured else "fitted")
        eff, provenance = self.efficiency(gpu)
        peak = gpu.peak_tflops(self.precision) * 1e12
        compute = self.flops_per_sample * micro_batch * accumulation / (peak * eff)
        fixed = self._optimizer_s(gpu) + self.overhead_s * accumulation
        allreduce = self.allreduce_s(gpu, n_gpus)
        return StepPrediction(compute + fixed + allreduce, compute, fixed, allreduce, provenance)

    def _is_local(self, gpu: GpuSpec) -> bool:
        return self.report.device.kind == "cuda" and self.local_gpu is not None and gpu.name == self.local_gpu.name


def samples_per_second(report: ProbeReport, gpu: GpuSpec, gpu_count: int, precision: str,
                       local_gpu: GpuSpec | None = None) -> float:
    """Training throughput of `gpu_count` x `gpu` at the probe's best measured per-GPU batch."""
    best = report.best_point()
    micro = best.batch_size if best else 1
    model = StepTimeModel(report, local_gpu, precision)
    step = model.predict(gpu, gpu_count, micro, 1)
    return micro * gpu_count / step.seconds

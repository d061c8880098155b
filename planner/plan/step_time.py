"""How fast one optimizer step runs on a GPU the probe may never have seen.

Eager training is launch-bound at small batches (the GPU waits for the host to issue kernels)
and device-bound at large ones, so the measured local step time is fitted as
    t(B) = max(host, fixed + B * per_sample)
with the line through the larger half of the batch sizes. Each part moves to a target GPU by
its own ceiling:
- per-sample compute: FLOPs/sample over (peak TFLOP/s for the precision x achieved efficiency),
  matmul and convolution FLOPs each at their own ceiling (see `ceilings`);
- fixed device work: optimizer bytes/param x trained params over memory bandwidth, plus whatever else
  the probe's GPU measured, moved by the bandwidth ratio;
- host time: measured on a GPU probe, else a prior per parameter tensor (kernels per tensor);
- data parallel over n GPUs adds a ring all-reduce, 2(n-1)/n x gradient bytes / link bandwidth,
  partly hidden behind backward; over N nodes of g GPUs it is hierarchical, the inter-node part
  2(N-1)/N x gradient bytes / the instance's fabric (planner/plan/parallel.py).
The efficiency is calibrated from the probe when it ran on a known GPU, else the prior fitted on
public per-GPU throughput (pricing/priors_fit.json), whose rows and error each prediction names.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import BadInput
from planner.plan import fitted_priors, parallel, priors
from planner.plan.trainable import Trained
from planner.contracts.probe import ProbePoint, ProbeReport, Provenance
from providers.schema import GpuSpec

GRAD_BYTES_PER_PARAM = 4  # gradients stay fp32 under bf16 autocast
LAUNCH_BOUND_MARGIN = 1.10  # a small-batch step this much above the line is taken as host-bound


@dataclass(frozen=True)
class LocalStepTime:
    """t(B) = max(host_s, fixed_s + B * per_sample_s), fitted to the measured points."""

    host_s: float
    fixed_s: float
    per_sample_s: float
    points: int

    def device_s(self, batch: float) -> float:
        return self.fixed_s + batch * self.per_sample_s

    def at(self, batch: float) -> float:
        return max(self.host_s, self.device_s(batch))


def _line(xy: list[tuple[int, float]]) -> tuple[float, float]:
    """(intercept, slope) by least squares; through the origin when noise tips the line."""
    n = len(xy)
    mx = sum(x for x, _ in xy) / n
    my = sum(y for _, y in xy) / n
    sxx = sum((x - mx) ** 2 for x, _ in xy)
    slope = sum((x - mx) * (y - my) for x, y in xy) / sxx if sxx else 0.0
    intercept = my - slope * mx
    if intercept < 0 or slope <= 0:
        return 0.0, sum(x * y for x, y in xy) / sum(x * x for x, _ in xy)
    return intercept, slope


def fit_step_time(points: list[ProbePoint]) -> LocalStepTime | None:
    xy = sorted((p.batch_size, p.step_time_s) for p in points if p.status == "ok" and p.step_time_s)
    if not xy:
        return None
    if len(xy) == 1:
        batch, t = xy[0]
        return LocalStepTime(host_s=0.0, fixed_s=0.0, per_sample_s=t / batch, points=1)
    large = xy[-max(2, (len(xy) + 1) // 2):]
    fixed, per_sample = _line(large)
    small = xy[: len(xy) - len(large)]
    host = max((t for b, t in small if t > LAUNCH_BOUND_MARGIN * (fixed + per_sample * b)), default=0.0)
    return LocalStepTime(host_s=host, fixed_s=fixed, per_sample_s=per_sample, points=len(xy))


def run_precision(gpu: GpuSpec, precision: str) -> str:
    """The precision a run takes on `gpu`: bf16 where the GPU has none (T4, V100) runs as fp16,
    autocast with a grad scaler, at the fp16 ceiling."""
    return "fp16" if precision == "bf16" and not gpu.supports("bf16") else precision


def ceilings(gpu: GpuSpec, precision: str, tf32_matmul: bool) -> tuple[tuple[float, str], tuple[float, str]]:
    """((matmul TFLOP/s, unit), (convolution TFLOP/s, unit)) for a run in `precision` on `gpu`.

    Mixed precision puts both on the tensor cores. fp32 follows torch's defaults:
    torch.backends.cudnn.allow_tf32 is True, so convolutions run on TF32 tensor cores;
    torch.backends.cuda.matmul.allow_tf32 is False, so matmuls stay on the FP32 units unless
    the request turns TF32 matmuls on. The unit names the efficiency prior that applies.
    """
    ran = run_precision(gpu, precision)
    if ran != "fp32":
        tensor = gpu.peak_tflops(ran)
        return (tensor, ran), (tensor, ran)
    tf32 = gpu.tf32_tflops if gpu.vendor == "nvidia" else None
    matmul = (tf32, "tf32") if tf32_matmul and tf32 is not None else (gpu.fp32_tflops, "fp32")
    conv = (tf32, "tf32") if tf32 is not None else (gpu.fp32_tflops, "fp32")
    return matmul, conv


@dataclass(frozen=True)
class LayoutCost:
    """What a parallel layout and checkpointing mode change in a step (planner/plan/parallel.py)."""

    flops_per_sample: float  # forward + backward, recomputation included
    comm: parallel.Collectives  # bytes each GPU sends per optimizer step, inside and across nodes
    optimizer_share: float  # the fraction of the optimizer step each GPU runs

    @property
    def comm_bytes(self) -> float:
        return self.comm.total


@dataclass(frozen=True)
class StepPrediction:
    seconds: float
    compute_s: float
    fixed_s: float
    host_s: float
    allreduce_s: float
    provenance: Provenance
    basis: str | None = None  # the fitted prior the compute part rests on, with its error band


class StepTimeModel:
    """Predicts seconds per optimizer step for (GPU, GPUs, micro-batch, accumulation)."""

    def __init__(self, report: ProbeReport, local_gpu: GpuSpec | None, precision: str,
                 tf32_matmul: bool = False, trained: Trained | None = None,
                 harness: fitted_priors.Harness | None = None) -> None:
        self.report = report
        # the stack the priors assume: a traced model (no step ran here) is planned as a tuned FSDP run,
        # a measured one as the eager steps its probe timed
        self.harness: fitted_priors.Harness = harness or ("tuned" if report.trace is not None else "eager")
        self.precision = precision
        self.tf32_matmul = tf32_matmul
        self.conv_share = report.model.conv_flops_fraction or 0.0
        self.params = report.model.params
        # what the optimizer updates (LoRA: the adapters), and the tensors a step launches kernels for
        self.trained_params = trained.trained_params if trained else self.params
        self.param_tensors = (report.model.param_tensors or 0) + (trained.adapter_tensors if trained else 0)
        self.local_gpu = local_gpu if report.device.kind == "cuda" else None
        self.local_fit = fit_step_time(report.points)
        self.flops_per_sample, self.flops_provenance = self._flops_per_sample()
        self.calibrated_efficiency = self._calibrate()
        self.host_s, self.host_provenance = self._host()
        self.overlap, self.overlap_provenance = self._overlap()

    def _flops_per_sample(self) -> tuple[float, Provenance]:
        model = self.report.model
        if model.flops_per_sample:
            return model.flops_per_sample, model.flops_provenance or "measured"
        # Kaplan et al. 2020: about 6 FLOPs per parameter per token for forward + backward.
        return 6.0 * self.params * (model.seq_len or 1), "prior"

    def ceiling_tflops(self, gpu: GpuSpec) -> float:
        """The ceiling for this model's FLOP mix: time adds up per FLOP, so matmul and
        convolution ceilings combine as a harmonic mean weighted by their shares."""
        (matmul, _), (conv, _) = ceilings(gpu, self.precision, self.tf32_matmul)
        return 1.0 / ((1.0 - self.conv_share) / matmul + self.conv_share / conv)

    def _prior_efficiency(self, gpu: GpuSpec) -> float:
        """Each FLOP class at its own ceiling and its unit's prior efficiency, as one fraction
        of ceiling_tflops (FP32 units have their own prior; TF32 takes the tensor cores' fitted
        one at the TF32 ridge point)."""
        (matmul, matmul_unit), (conv, conv_unit) = ceilings(gpu, self.precision, self.tf32_matmul)
        matmul_eff = priors.compute_efficiency(gpu, matmul_unit, harness=self.harness)
        conv_eff = priors.compute_efficiency(gpu, conv_unit, 1.0, harness=self.harness)
        seconds_per_tflop = (1.0 - self.conv_share) / (matmul * matmul_eff) + self.conv_share / (conv * conv_eff)
        return 1.0 / (self.ceiling_tflops(gpu) * seconds_per_tflop)

    def _calibrate(self) -> float | None:
        """Achieved fraction of the local GPU's ceiling, when the probe ran on a known GPU."""
        if self.local_gpu is None or self.local_fit is None:
            return None
        local_peak = self.ceiling_tflops(self.local_gpu) * 1e12
        return min(1.0, self.flops_per_sample / (self.local_fit.per_sample_s * local_peak))

    def _host(self) -> tuple[float, Provenance]:
        """Host time per micro-batch: measured on a GPU probe, else per parameter tensor."""
        if self.calibrated_efficiency is not None and self.local_fit is not None:
            return self.local_fit.host_s, "calibrated"
        tensors = self.param_tensors
        if tensors:
            return tensors * priors.host_s_per_param_tensor(), "prior"
        return priors.STEP_OVERHEAD_S, "prior"

    def _overlap(self) -> tuple[float, Provenance]:
        """Share of the all-reduce hidden behind backward: measured by a DDP probe on GPUs (NCCL
        runs communication on its own streams); a gloo run on CPUs says nothing about that."""
        ddp = self.report.ddp
        if ddp is not None and ddp.backend == "nccl" and ddp.overlap_fraction is not None:
            return ddp.overlap_fraction, "measured"
        return priors.ALLREDUCE_OVERLAP, "prior"

    def _optimizer_s(self, gpu: GpuSpec) -> float:
        return priors.optimizer_seconds(self.trained_params, gpu.bandwidth_gbs)

    def fixed_s(self, gpu: GpuSpec) -> float:
        """Device work once per step: the optimizer, plus what else the probe's GPU measured
        (moved by the bandwidth ratio: such work is memory-bound)."""
        if self.calibrated_efficiency is None or self.local_gpu is None or self.local_fit is None:
            return self._optimizer_s(gpu)
        extra = max(0.0, self.local_fit.fixed_s - self._optimizer_s(self.local_gpu))
        return self._optimizer_s(gpu) + extra * self.local_gpu.bandwidth_gbs / gpu.bandwidth_gbs

    def efficiency(self, gpu: GpuSpec) -> tuple[float, Provenance]:
        """Compute efficiency on `gpu`: calibrated from the probe, or the fitted prior (each FLOP
        class at its own ceiling, see _prior_efficiency)."""
        prior = self._prior_efficiency(gpu)
        if self.calibrated_efficiency is not None and self.local_gpu is not None:
            # Another GPU: carry the measured-to-prior ratio over to its prior.
            return min(1.0, self.calibrated_efficiency / self._prior_efficiency(self.local_gpu) * prior), "calibrated"
        return prior, "prior"

    def allreduce_s(self, gpu: GpuSpec, n_gpus: int, nodes: int = 1, fabric_bytes_per_s: float = 0.0) -> float:
        """All-reduce of fp32 gradients over `nodes` nodes of n GPUs (hierarchical across nodes),
        the part not hidden behind backward."""
        if n_gpus * nodes <= 1:
            return 0.0
        if n_gpus > 1 and gpu.link_gbs <= 0:
            raise BadInput(f"{gpu.name} has no GPU-to-GPU link bandwidth in the GPU table, so {n_gpus} of them "
                           "cannot be timed; add its link_gbs, or keep to single-GPU offers")
        grad_bytes = self.params * GRAD_BYTES_PER_PARAM
        g, across = n_gpus, (nodes - 1) / nodes / n_gpus
        comm = parallel.Collectives(all_reduce=2 * (g - 1) / g * grad_bytes, inter_node=2 * across * grad_bytes)
        return comm.seconds(gpu.link_gbs, fabric_bytes_per_s, g) * (1 - self.overlap)

    def predict(self, gpu: GpuSpec, n_gpus: int, micro_batch: int, accumulation: int,
                layout: LayoutCost | None = None, nodes: int = 1, fabric_bytes_per_s: float = 0.0) -> StepPrediction:
        """One optimizer step: `accumulation` micro-batches of `micro_batch` on each of n GPUs of
        each of `nodes` instances, joined by a fabric of `fabric_bytes_per_s` per instance.

        Each micro-batch costs max(host, device); the fixed device work comes once per step.
        With a `layout` (a traced model), its FLOPs, its collectives and its optimizer shard.
        """
        if layout is not None:
            return self._predict_layout(gpu, n_gpus, micro_batch, accumulation, layout, fabric_bytes_per_s)
        if self._is_local(gpu) and self.local_fit is not None:
            fit = self.local_fit
            per_micro = fit.per_sample_s * micro_batch
            host, fixed = fit.host_s, fit.fixed_s
            measured = accumulation == 1 and any(p.batch_size == micro_batch for p in self.report.ok_points())
            provenance: Provenance = "measured" if measured else "fitted"
            basis: str | None = None
        else:
            eff, provenance = self.efficiency(gpu)
            per_micro = self.flops_per_sample * micro_batch / (self.ceiling_tflops(gpu) * 1e12 * eff)
            host, fixed = self.host_s, self.fixed_s(gpu)
            basis = fitted_priors.fitted().basis(self.harness)
        allreduce = self.allreduce_s(gpu, n_gpus, nodes, fabric_bytes_per_s)
        seconds = (accumulation - 1) * max(host, per_micro) + max(host, per_micro + fixed) + allreduce
        if n_gpus * nodes > 1 and provenance in ("measured", "fitted"):
            provenance = "calibrated"  # the all-reduce part is modelled, not measured
        return StepPrediction(seconds, per_micro * accumulation, fixed, host, allreduce, provenance, basis)

    def _predict_layout(self, gpu: GpuSpec, n_gpus: int, micro_batch: int, accumulation: int,
                        layout: LayoutCost, fabric_bytes_per_s: float) -> StepPrediction:
        eff, provenance = self.efficiency(gpu)
        per_micro = layout.flops_per_sample * micro_batch / (self.ceiling_tflops(gpu) * 1e12 * eff)
        fixed = self.fixed_s(gpu) * layout.optimizer_share
        compute = per_micro * accumulation
        comm = parallel.hidden_behind(layout.comm.seconds(gpu.link_gbs, fabric_bytes_per_s, n_gpus),
                                      compute, self.overlap)
        seconds = (accumulation - 1) * max(self.host_s, per_micro) + max(self.host_s, per_micro + fixed) + comm
        return StepPrediction(seconds, compute, fixed, self.host_s, comm, provenance,
                              fitted_priors.fitted().basis(self.harness))

    def _is_local(self, gpu: GpuSpec) -> bool:
        return self.local_gpu is not None and gpu.name == self.local_gpu.name


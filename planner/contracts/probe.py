"""ProbeReport: what the probe measured on the local device, with the provenance of every figure.

A report saved to disk is planned against later without a GPU and without torch.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from planner.contracts.layout import Checkpointing
from planner.contracts.request import Precision
from planner.contracts.settings import Strict

PROBE_SCHEMA_VERSION = 5  # 2: tf32 fields; 3: `interrupted`; 4: attention FLOPs; 5: linear layer shapes
# (planner/contracts/migrate.py)

PointStatus = Literal["ok", "oom", "error", "skipped"]
Provenance = Literal["measured", "fitted", "predicted", "calibrated", "prior", "derived", "traced"]
KernelsChoice = Literal["torch", "triton"]


class DeviceInfo(Strict):
    kind: Literal["cpu", "cuda"]
    name: str
    count: int = 1
    memory_bytes: int | None = Field(description="usable device memory; on a CPU the memory cap that stands in for it")
    memory_source: Literal["device", "cap", "unknown"]
    gpu_spec: str | None = Field(default=None, description="the catalog GpuSpec this device matched, if any")
    peak_tflops: float | None = Field(default=None, description="dense ceiling for the probe's precision")
    bandwidth_gbs: float | None = None
    tf32_matmul: bool | None = Field(
        default=None, description="torch.backends.cuda.matmul.allow_tf32 during the probe (None: not recorded)")
    tf32_cudnn: bool | None = Field(
        default=None, description="torch.backends.cudnn.allow_tf32 during the probe: fp32 convolutions on TF32")


class Software(Strict):
    python: str
    torch: str
    triton: str | None = None
    cuda: str | None = None
    batchfit: str
    platform: str


class DataInfo(Strict):
    kind: Literal["real", "synthetic"]
    source: str = Field(description="what the samples are, e.g. 'Python stdlib sources, byte-level'")


class ModelInfo(Strict):
    id: str
    params: int
    trainable_params: int
    param_tensors: int | None = Field(
        default=None, description="parameter tensors: eager training launches kernels per tensor, so host time grows with it")
    seq_len: int | None = Field(default=None, description="tokens per sample for sequence models")
    flops_per_sample: float | None = Field(default=None, description="forward + backward FLOPs for one sample")
    flops_provenance: Provenance | None = None
    attention_flops_per_sample: float | None = Field(
        default=None, ge=0, description="the part of flops_per_sample in attention scores and values (None: not counted)")
    conv_flops_fraction: float | None = Field(
        default=None, ge=0, le=1, description="share of the FLOPs in convolutions (they run far below peak in eager mode)")
    data: DataInfo


class ProbeSettings(Strict):
    precision: Precision
    kernels: KernelsChoice
    optimizer: str
    max_batch: int | None
    time_limit_s: float
    memory_cap_bytes: int | None
    warmup_steps: int
    timed_steps: int
    plateau_gain: float = Field(
        description="GPU: stop after two doublings in a row gain less than this fraction; never on a CPU"
    )
    min_timed_s: float | None = Field(default=None, description="each point was timed over at least this many seconds")
    start_batch: int = 1
    point_time_limit_s: float | None = Field(default=None, description="cap on one point's timed steps")
    refine_multiple: int = Field(default=8, description="binary refinement after an OOM stops at this granularity")
    safety_margin: float = Field(default=0.0, description="fraction of memory kept free below the OOM boundary")
    isolate: bool = Field(default=False, description="each point ran in its own subprocess")
    activation_checkpointing: bool = False
    noise_steps: int = Field(default=0, description="training steps of the noise-scale measurement (0: none)")
    noise_train_steps: int = Field(default=0, description="most training steps before that measurement")
    noise_target_loss: float | None = Field(default=None, description="loss that ended that training early")
    nproc: int = Field(default=1, description="processes of the DDP probe (1: none)")
    noise_reference_batch: int | None = Field(default=None, description="the reference batch that capped B_small")


class ProbePoint(Strict):
    batch_size: int = Field(ge=1)
    status: PointStatus
    reason: str | None = None
    step_time_s: float | None = Field(default=None, description="median of the timed steps, seconds")
    step_time_min_s: float | None = None
    step_time_max_s: float | None = None
    timed_steps: int = 0
    samples_per_s: float | None = None
    peak_memory_bytes: int | None = None
    memory_provenance: Provenance | None = None
    predicted_memory_bytes: int | None = Field(default=None, description="fake-tensor trace of the step, no allocation")
    achieved_tflops: float | None = Field(default=None, description="flops_per_sample * samples_per_s (derived)")
    mfu: float | None = Field(default=None, description="achieved_tflops / device peak (derived)")
    resumed: bool = Field(default=False, description="read back from an earlier run's point log, not re-measured")
    step_time_spread: float | None = Field(
        default=None, ge=0, description="(q75 - q25) / median of the timed steps: the point's relative dispersion"
    )
    measurements: int = Field(
        default=1, ge=1, description="times the point was timed: a noisy or implausible gain re-measures it"
    )


class MemoryFit(Strict):
    """M(B) = static_bytes + B * per_sample_bytes, least squares over the points."""

    static_bytes: float
    per_sample_bytes: float
    points_used: int
    max_relative_residual: float
    provenance: Provenance = "fitted"

    def bytes_at(self, batch_size: float) -> float:
        return self.static_bytes + batch_size * self.per_sample_bytes

    def largest_batch(self, usable_bytes: float) -> int:
        """Largest batch whose fitted memory stays within usable_bytes (0 if even B=1 does not)."""
        if self.per_sample_bytes <= 0:
            return 0 if self.static_bytes > usable_bytes else 1 << 20
        # the epsilon keeps an exact fit (e.g. 138.0 computed as 137.9999...) from losing a sample
        return max(0, int((usable_bytes - self.static_bytes) / self.per_sample_bytes + 1e-9))


class MemoryCheck(Strict):
    """The memory model's largest batch at this device's capacity, against the boundary the sweep found."""

    capacity_bytes: int
    predicted_largest_batch: int = Field(description="memory_fit.largest_batch(capacity), no margin")
    last_ok_batch: int | None = None
    first_oom_batch: int | None = None
    relative_error: float | None = Field(
        default=None, description="(predicted - last_ok) / last_ok, when the sweep reached an OOM"
    )
    boundary_provenance: Provenance | None = Field(
        default=None, description="measured: a real OOM or a measured peak over the cap; predicted: the fake trace"
    )
    trace_max_relative_error: float | None = Field(
        default=None, description="largest |predicted - measured| / measured peak over the ok points"
    )


class NoiseRead(Strict):
    """B_simple from one choice of the smaller batch, the larger one held (the band spans these)."""

    b_small: int = Field(ge=1)
    b_big: int = Field(ge=2)
    b_simple: float | None = Field(description="None where |G|² or tr(Sigma) averaged to <= 0")


class PreconditionedNoise(Strict):
    """B_simple of gradients divided by Adam's sqrt(v_hat) + eps, as AdaptDL measures it for Adam."""

    b_simple: float = Field(gt=0)
    low: float | None = Field(default=None, gt=0, description="90% band; None when the band is insufficient")
    high: float | None = Field(default=None, gt=0)
    steps: int = Field(ge=0, description="measured steps with an optimizer state to precondition by")
    grad_sqnorm: float | None = None
    trace_sigma: float | None = None
    preconditioner: str = "sqrt(exp_avg_sq / (1 - beta2^step)) + eps of the run's Adam"


BandStatus = Literal["measured", "insufficient"]


class NoiseScale(Strict):
    """Gradient noise scale B_simple = tr(Sigma)/|G|^2 (McCandlish et al. 2018) with its band."""

    b_simple: float = Field(gt=0)
    low: float | None = Field(default=None, gt=0, description="90% band; None when the band is insufficient")
    high: float | None = Field(default=None, gt=0)
    band: BandStatus = Field(
        default="measured", description="insufficient: too few measured steps for a band; B_simple is a point read"
    )
    b_small: int
    b_big: int
    steps: int
    provenance: Provenance = "measured"
    grad_sqnorm: float | None = Field(default=None, description="|G|^2, the EMA of its per-step estimates")
    trace_sigma: float | None = Field(default=None, description="tr(Sigma), the EMA of its per-step estimates")
    ema: float | None = Field(default=None, description="weight the running averages keep per step")
    method: str | None = Field(default=None, description="where the two batch sizes came from; how the band was made")
    lr: float | None = Field(default=None, description="learning rate of the training steps it was measured over")
    trained_steps: int = Field(default=0, ge=0, description="training steps taken before the measured ones")
    train_loss: float | None = Field(default=None, description="mean training loss over the measured steps")
    reads: list[NoiseRead] = Field(
        default_factory=list, description="B_simple at each smaller batch tried against b_big; the band spans them"
    )
    preconditioned: PreconditionedNoise | None = Field(
        default=None, description="Adam-family runs: the noise scale of the Adam-preconditioned gradients"
    )

    @model_validator(mode="after")
    def _band_matches_status(self) -> NoiseScale:
        if (self.band == "measured") != (self.low is not None and self.high is not None):
            raise ValueError(f"band '{self.band}' needs low and high {'set' if self.band == 'measured' else 'unset'}")
        return self


class DdpPoint(Strict):
    """One per-rank batch size under DistributedDataParallel; times are medians on the slowest rank."""

    batch_per_rank: int = Field(ge=1)
    step_time_s: float = Field(gt=0, description="a DDP training step, gradient all-reduce included")
    no_sync_step_time_s: float | None = Field(default=None, description="the same step under no_sync(): no all-reduce")
    single_step_time_s: float | None = Field(default=None, description="rank 0 alone, plain model, no DDP")
    samples_per_s: float = Field(gt=0, description="world_size * batch_per_rank / step_time_s")
    scaling_efficiency: float | None = Field(
        default=None, description="DDP throughput / (world_size x single-rank throughput) = single / DDP step time"
    )


class DdpMeasurement(Strict):
    """The training step on world_size local devices under DDP (`batchfit probe --nproc N`)."""

    world_size: int = Field(ge=2)
    backend: Literal["nccl", "gloo"]
    grad_bytes: int = Field(description="bytes of trainable-parameter gradients all-reduced per step")
    allreduce_s: float = Field(gt=0, description="median standalone all_reduce of grad_bytes, slowest rank")
    bus_bandwidth_gbs: float = Field(gt=0, description="2(n-1)/n * grad_bytes / allreduce_s, GB/s (nccl-tests' busbw)")
    points: list[DdpPoint]
    scaling_efficiency: float | None = Field(default=None, description="at the largest per-rank batch")
    overlap_fraction: float | None = Field(
        default=None, description="1 - (DDP - no_sync step time) / allreduce_s at the largest batch, clamped to [0, 1]"
    )
    noise_scale: NoiseScale | None = Field(
        default=None, description="B_small = per-rank batch (local gradient), B_big = world_size x it (all-reduced)"
    )


class TracedMode(Strict):
    """One activation-checkpointing mode of a traced training step, per sample at the trace's sequence length."""

    checkpointing: Checkpointing
    flops_per_sample: float = Field(description="forward + backward FLOPs, recomputation included")
    attention_flops_per_sample: float | None = Field(
        default=None, ge=0, description="the part of flops_per_sample in attention (None: not counted)")
    activation_bytes_per_sample: float = Field(description="bytes the step's peak grows by per sample")
    transient_bytes: float = Field(
        default=0.0, description="the step's batch-independent temporaries beyond weights, gradients and optimizer state")


class LinearGroup(Strict):
    """Linear layers of one shape at one place in the model, e.g. every layer's q_proj."""

    name: str = Field(description="module path with each layer index as *, e.g. model.layers.*.self_attn.q_proj")
    in_features: int = Field(ge=1)
    out_features: int = Field(ge=1)
    count: int = Field(ge=1, description="modules of this name and shape")
    head: bool = Field(default=False, description="the output projection (lm_head): peft's all-linear and "
                       "bitsandbytes' 4-bit conversion leave it out")

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]


class ModelTrace(Strict):
    """What a fake-tensor trace of a model that never ran here says (`traced` everywhere)."""

    source: str = Field(description="the config traced: a config.json path or hf:<id>")
    method: str = Field(description="how it was traced, e.g. which depths and batch sizes were extrapolated from")
    compute_dtype: Precision = Field(description="dtype of the weights the traced step computed with")
    layers: int = Field(ge=1, description="decoder layers")
    units: int = Field(ge=1, description="blocks a fully-sharded layout gathers one at a time: the layers and the root")
    largest_unit_params: int = Field(ge=1, description="parameters of the largest such block")
    root_params: int = Field(default=0, ge=0, description="parameters outside the layers (embedding, head, final norm)")
    optimizer: str
    optimizer_state_bytes: int = Field(ge=0, description="optimizer state for the trainable parameters, unsharded")
    seconds: float = Field(ge=0, description="wall time of the trace")
    modes: list[TracedMode]
    linears: list[LinearGroup] | None = Field(
        default=None, description="the model's nn.Linear layers by name and shape (None: traced before schema 5)")

    def mode(self, checkpointing: Checkpointing) -> TracedMode | None:
        return next((m for m in self.modes if m.checkpointing == checkpointing), None)


class ProbeReport(Strict):
    schema_version: int = PROBE_SCHEMA_VERSION
    created_at: dt.datetime
    device: DeviceInfo
    software: Software
    model: ModelInfo
    settings: ProbeSettings
    points: list[ProbePoint]
    stop_reason: str
    memory_fit: MemoryFit | None = None
    memory_check: MemoryCheck | None = None
    recommended_max_batch: int | None = Field(
        default=None, description="largest ok batch whose peak memory is <= (1 - safety_margin) * capacity"
    )
    noise_scale: NoiseScale | None = None
    ddp: DdpMeasurement | None = None
    trace: ModelTrace | None = Field(default=None, description="a model traced, not run: no point was measured")
    warnings: list[str] = Field(default_factory=list)
    interrupted: bool = Field(
        default=False, description="Ctrl-C, SIGTERM or a cancel ended the probe early: a partial measurement")

    def ok_points(self) -> list[ProbePoint]:
        return [p for p in self.points if p.status == "ok"]

    def best_point(self) -> ProbePoint | None:
        """The measured point with the highest throughput."""
        ok = [p for p in self.ok_points() if p.samples_per_s]
        return max(ok, key=lambda p: p.samples_per_s or 0.0, default=None)

"""The shapes a run can take on N instances of one kind: (GPU, GPU count, nodes, fabric) x global batch.

For each offer the whole instance is rented, N of them for a cluster, and every GPU of every node
runs data parallel. A global batch B gives each of the N*g GPUs B/(N*g) samples; when that exceeds
what fits in the GPU's memory the step accumulates k micro-batches. Step time, memory, steps and the
retuned LR depend only on (GPU, GPU count, nodes, fabric, global batch), so a ShapeBook computes them
once per shape and every offer of that kind shares them; only the price differs (candidates.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from planner.plan import fitted_priors, priors
from planner.contracts.layout import Checkpointing, Layout, MemoryBreakdown
from planner.contracts.plan import Exclusion, LrChoice
from planner.contracts.probe import MemoryFit, Provenance
from planner.contracts.request import PlanRequest, Precision
from planner.plan.efficiency import SampleModel
from planner.plan.lr import retune
from planner.plan.layouts import LayoutBook, Option
from planner.plan.memory import MemoryLimit, largest_batch
from planner.plan.step_time import StepTimeModel, run_precision
from providers.schema import Fabric, GpuSpec, Offer


def global_batches(reference_batch: int, noise_scale_known: bool) -> list[int]:
    """Powers of two from B0/8 to B0*64 (B0*8 while samples are held fixed), and B0 itself."""
    low = max(1, reference_batch // priors.BATCH_RANGE_BELOW)
    above = priors.BATCH_RANGE_ABOVE if noise_scale_known else priors.BATCH_RANGE_ABOVE_SAMPLES_FIXED
    high = reference_batch * above
    sizes = {reference_batch}
    b = 1
    while b <= high:
        if b >= low:
            sizes.add(b)
        b *= 2
    return sorted(sizes)


@dataclass(frozen=True)
class Shape:
    """What a candidate costs per step, independent of the price."""

    per_gpu_batch: int
    accumulation: int
    global_batch: int
    precision: Precision
    step_time_s: float
    provenance: Provenance
    steps: int
    samples: float
    memory_bytes: float
    memory_limit_bytes: float
    lr: LrChoice
    notes: tuple[str, ...]
    layout: Layout = "ddp"
    checkpointing: Checkpointing = "none"
    memory: MemoryBreakdown | None = None
    comm_bytes: float = 0.0
    comm_exposed_s: float = 0.0
    nodes: int = 1
    inter_node_bytes: float = 0.0  # the part of comm_bytes each GPU sends across nodes
    # relative error band of step_time_s: the cross-GPU prior's leave-one-source-out median when the
    # step time rests on it, 0 when measured or fitted on this very GPU
    step_error: float = 0.0

    @property
    def compute_seconds(self) -> float:
        """Seconds of training for the whole run, before spot overhead and billing."""
        return self.steps * self.step_time_s


def split_batch(global_batch: int, n_gpus: int, fits: int) -> tuple[int, int] | None:
    """(micro-batch per GPU, accumulation) for a global batch, or None if it can't be split evenly."""
    if global_batch % n_gpus:
        return None
    per_gpu = global_batch // n_gpus
    need = math.ceil(per_gpu / fits)
    # the smallest divisor of per_gpu at or above need, from the divisor pairs up to sqrt: O(sqrt(B)), not O(B)
    divisors = {d for i in range(1, math.isqrt(per_gpu) + 1) if per_gpu % i == 0 for d in (i, per_gpu // i)}
    accumulation = min(d for d in divisors if d >= need)
    return per_gpu // accumulation, accumulation


class ShapeBook:
    def __init__(self, request: PlanRequest, fit: MemoryFit, steps_model: StepTimeModel,
                 sample_model: SampleModel, gpus: dict[str, GpuSpec], layouts: LayoutBook | None = None) -> None:
        self.request = request
        self.layouts = layouts or LayoutBook(steps_model.report, request, fit)
        self.fit = fit
        self.perf = steps_model
        self.samples = sample_model
        self.gpus = gpus
        self.batches = global_batches(request.reference.batch_size, sample_model.b_noise is not None)
        self._limits: dict[str, MemoryLimit] = {}
        self._shapes: dict[tuple[str, int, int, Fabric | None], list[Shape]] = {}
        self._lr: dict[int, LrChoice] = {}  # the retune depends on the global batch alone
        self._fits: dict[tuple[str, int, int], bool | None] = {}

    def limit(self, gpu: GpuSpec) -> MemoryLimit:
        if gpu.name not in self._limits:
            self._limits[gpu.name] = largest_batch(self.fit, gpu.memory_bytes)
        return self._limits[gpu.name]

    def shapes(self, gpu: GpuSpec, n_gpus: int, nodes: int = 1, fabric: Fabric | None = None) -> list[Shape]:
        """Shapes on `nodes` instances of n GPUs joined by `fabric` (None on one node)."""
        key = (gpu.name, n_gpus, nodes, fabric if nodes > 1 else None)
        if key not in self._shapes:
            self._shapes[key] = list(self._make_shapes(gpu, n_gpus, nodes, key[3]))
        return self._shapes[key]

    def fits(self, gpu: GpuSpec, n_gpus: int, nodes: int) -> bool | None:
        """Whether batch 1 fits some option on `nodes` nodes of n GPUs; None when there is no option
        to weigh (e.g. only sharded layouts asked for, on one GPU): no shapes, and no memory failure."""
        key = (gpu.name, n_gpus, nodes)
        if key not in self._fits:
            usable = self.limit(gpu).usable_bytes
            options = self.layouts.options(n_gpus, nodes)
            self._fits[key] = any(o.largest_batch(usable) >= 1 for o in options) if options else None
        return self._fits[key]

    def _make_shapes(self, gpu: GpuSpec, n_gpus: int, nodes: int, fabric: Fabric | None) -> Iterator[Shape]:
        usable = self.limit(gpu).usable_bytes
        for option in self.layouts.options(n_gpus, nodes):
            fits = option.largest_batch(usable)
            if fits >= 1:
                yield from self._option_shapes(gpu, n_gpus, option, fits, nodes, fabric)

    def _option_shapes(self, gpu: GpuSpec, n_gpus: int, option: Option, fits: int, nodes: int = 1,
                       fabric: Fabric | None = None) -> Iterator[Shape]:
        b_noise = self.samples.b_noise
        precision: Precision = run_precision(gpu, self.request.precision)  # type: ignore[assignment]
        precision_note = (f"{gpu.name} has no bf16: planned in fp16 (autocast with a grad scaler) at its "
                          f"{gpu.fp16_tflops:g} TFLOP/s fp16 ceiling") if precision != self.request.precision else None
        usable = self.limit(gpu).usable_bytes
        fabric_bytes = fabric.bytes_per_s if fabric is not None else 0.0
        cluster_note = fabric_note(fabric, nodes)
        for batch in self.batches:
            split = split_batch(batch, n_gpus * nodes, fits)
            if split is None:
                continue
            micro, accumulation = split
            cost = option.cost(n_gpus, accumulation, nodes)
            step = self.perf.predict(gpu, n_gpus, micro, accumulation, cost, nodes, fabric_bytes)
            notes: list[str] = [precision_note] if precision_note else []
            if cluster_note:
                notes.append(cluster_note)
            if step.basis:
                notes.append(f"step time {step.basis}")
            if accumulation > 1:
                notes.append(f"accumulates {accumulation} micro-batches of {micro}: {fits} fit per GPU")
            if b_noise is not None and batch > priors.BEYOND_CRITICAL_FACTOR * b_noise:
                gain = self.samples.step_gain_vs_double(batch / 2)
                notes.append(f"far beyond the critical batch {b_noise:,.0f}: doubling to here saves {gain:.0%} of steps")
            steps = self.samples.steps(batch)
            yield Shape(
                per_gpu_batch=micro,
                accumulation=accumulation,
                global_batch=batch,
                precision=precision,
                step_time_s=step.seconds,
                provenance=step.provenance,
                step_error=fitted_priors.fitted().cross_gpu_median if step.basis else 0.0,
                steps=steps,
                samples=float(steps * batch),
                memory_bytes=option.bytes_at(micro),
                memory_limit_bytes=usable,
                lr=self._retune(batch),
                notes=tuple(notes),
                layout=option.layout,
                checkpointing=option.checkpointing,
                memory=option.breakdown(micro),
                comm_bytes=cost.comm_bytes if cost else 0.0,
                comm_exposed_s=step.allreduce_s,
                nodes=nodes,
                inter_node_bytes=cost.comm.inter_node if cost else 0.0,
            )

    def _retune(self, batch: int) -> LrChoice:
        if batch not in self._lr:
            self._lr[batch] = retune(self.request.reference, batch, self.samples.b_noise)
        return self._lr[batch]

    def exclusion(self, offer: Offer) -> Exclusion | None:
        """Why the offer is no candidate on one node, or None (a memory reason is `memory_reason`)."""
        gpu = self.gpus[offer.gpu]
        if offer.gpu_count > self.request.max_gpus:
            return Exclusion(offer=describe_offer(offer), reason=f"{offer.gpu_count} GPUs exceed --max-gpus {self.request.max_gpus}")
        if offer.gpu_count > 1 and gpu.link_gbs <= 0:
            return Exclusion(offer=describe_offer(offer), reason=f"{gpu.name} has no GPU-to-GPU link bandwidth "
                             f"in the GPU table, so {offer.gpu_count} of them cannot be timed; add link_gbs")
        return None

    def memory_reason(self, offer: Offer, nodes: int = 1) -> str:
        """Why batch 1 fits no option on `nodes` instances of the offer: GB per GPU by holder."""
        gpu = self.gpus[offer.gpu]
        usable = self.limit(gpu).usable_bytes
        options = self.layouts.options(offer.gpu_count, nodes)
        least = min(options, key=lambda o: o.bytes_at(1))
        total = offer.gpu_count * nodes
        spread = f"over {total} GPUs" if total > 1 else "on 1 GPU"
        how = f" with {least.describe()} {spread}" if least.states is not None else ""
        ddp = [o for o in options if o.layout == "ddp"]
        also = (f"; DDP needs {min(o.bytes_at(1) for o in ddp) / 1e9:,.0f} GB"
                if ddp and least.layout != "ddp" else "")
        return (f"memory: batch 1 needs {least.bytes_at(1) / 1e9:.1f} GB per GPU{how}"
                f"{_held(least)} but {gpu.name} leaves {usable / 1e9:.1f} GB usable{also}")

    def node_memory(self, offer: Offer, nodes: int) -> str:
        """On `nodes` nodes: the least memory per GPU at batch 1 and its layout, in short."""
        options = self.layouts.options(offer.gpu_count, nodes)
        least = min(options, key=lambda o: o.bytes_at(1))
        name = least.describe().split(",")[0] if least.states is not None else least.layout
        return f"{nodes} nodes ({offer.gpu_count * nodes} GPUs): {least.bytes_at(1) / 1e9:.1f} GB with {name}"


def fabric_note(fabric: Fabric | None, nodes: int) -> str | None:
    """What joins the nodes of a multi-node shape, and how sure the figure is."""
    if nodes < 2 or fabric is None:
        return None
    text = f"{nodes} nodes joined by {fabric.describe()} per instance (pricing/fabric.csv)"
    if fabric.technology == "tcp":
        text += ": no fast fabric, the instance's stated TCP network bandwidth"
    if fabric.source.startswith("unverified"):
        text += "; the figure is unverified"
    return text


def _held(option: Option) -> str:
    """What holds a traced option's memory at batch 1, in GB."""
    parts = option.breakdown(1)
    if parts is None:
        return ""
    return (f" (weights {parts.params / 1e9:.1f}, gradients {parts.grads / 1e9:.1f}, optimizer "
            f"{parts.optimizer / 1e9:.1f}, buffers {parts.buffers / 1e9:.1f}, activations {parts.activations / 1e9:.1f})")


def describe_offer(offer: Offer) -> str:
    return f"{offer.provider} {offer.instance} {offer.market} ({offer.region})"

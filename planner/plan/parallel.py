"""Parallel layouts inside one instance: memory per GPU and bytes on the wire per step.

n GPUs in one data-parallel group (Rajbhandari et al. 2020, "ZeRO"; torch FSDP2 `fully_shard`):
- ddp:   every GPU keeps weights, gradients and optimizer state; gradients all-reduced once a step.
- zero1: optimizer state sharded 1/n; gradients reduce-scattered, updated weights all-gathered.
- zero2: gradients sharded too: reduce-scattered after every micro-batch's backward.
- fsdp:  weights sharded too (ZeRO-3): each unit (decoder layer, root) all-gathered for its
         forward and again for its backward, gradients reduce-scattered every micro-batch.
Mixed precision as batchfit trains it: fp32 master weights (4 B), fp32 gradients (4 B), the
optimizer's fp32 state, and under bf16 a 2-byte compute copy of the weights: ddp/zero1/zero2 keep
all of it through backward (autocast's cast cache), fsdp only the gathered units in flight.
A LoRA, QLoRA or partial fine-tune (planner/plan/trainable.py) keeps all of that for the trained
parameters only; its frozen weights are stored once at their storage dtype (sharded under fsdp).
Ring collectives move (n-1)/n of the gathered or scattered bytes per GPU, twice that for an
all-reduce, at the instance's GPU-to-GPU bandwidth; a stated share hides behind compute.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.contracts.layout import Checkpointing, Layout, MemoryBreakdown
from planner.contracts.probe import ProbeReport
from planner.plan.trainable import Trained

MASTER_BYTES = 4.0  # fp32 weights the optimizer updates
GRAD_BYTES = 4.0  # fp32 gradients (and the reduce dtype of the collectives)
BUCKET_BYTES = 25 * 2**20  # DDP's default gradient bucket (bucket_cap_mb=25), one in flight
UNITS_IN_FLIGHT = 2  # fsdp: the unit computing and the one prefetched
OPTIMIZER_STATE_BYTES = {"adamw": 8.0, "adam": 8.0, "sgd": 4.0}  # fp32 per trainable parameter


@dataclass(frozen=True)
class ModelStates:
    """What a layout shards: the model's parameters and its optimizer's state."""

    params: int
    trainable: int
    optimizer_bytes: float  # unsharded optimizer state, bytes
    compute_copy_bytes: float  # per parameter: 2 under bf16, 0 when the weights compute in fp32
    largest_unit_params: int  # the biggest block fsdp gathers at once
    root_params: int = 0  # fsdp's root unit: gathered once, kept through backward
    frozen_bytes: float = 0.0  # frozen weights at their storage dtype, unsharded: no master, no copy
    dequant_bytes: float = 0.0  # QLoRA: one linear's weight dequantised for its matmul, in flight
    unit_bytes_per_param: float | None = None  # an fsdp unit in flight when not gathered_bytes (QLoRA)

    @property
    def gathered_bytes(self) -> float:
        """Bytes per parameter of a gathered fsdp unit: the compute copy, else the fp32 weight, for the
        trained parameters; the frozen ones at their storage dtype (an average over the model)."""
        trained = self.compute_copy_bytes or MASTER_BYTES
        if not self.frozen_bytes:
            return trained
        return (self.frozen_bytes + trained * self.trainable) / self.params

    @property
    def stored_bytes(self) -> float:
        """Weights as stored, unsharded: fp32 masters of the trained parameters and the frozen ones."""
        if not self.frozen_bytes:
            return MASTER_BYTES * self.params
        return MASTER_BYTES * self.trainable + self.frozen_bytes


def states_of(report: ProbeReport, precision: str, optimizer: str, trained: Trained | None = None) -> ModelStates:
    """ModelStates from a probe report: the trace's figures when traced, else the whole model as one unit;
    `trained`: a LoRA, QLoRA or partial fine-tune's trained and frozen parameters."""
    trainable = report.model.trainable_params
    trace = report.trace
    optimizer_bytes = (trace.optimizer_state_bytes if trace is not None
                       else OPTIMIZER_STATE_BYTES.get(optimizer, 8.0) * trainable)
    states = ModelStates(
        params=report.model.params,
        trainable=trainable,
        optimizer_bytes=float(optimizer_bytes),
        compute_copy_bytes=2.0 if precision in ("bf16", "fp16") else 0.0,
        largest_unit_params=trace.largest_unit_params if trace is not None else report.model.params,
        root_params=trace.root_params if trace is not None else 0,
    )
    if trained is None:
        return states
    per_trained = optimizer_bytes / trainable if trainable else OPTIMIZER_STATE_BYTES.get(optimizer, 8.0)
    # QLoRA: the largest unit (the root: embedding and head) stays at the compute dtype, not 4-bit.
    unit = (states.compute_copy_bytes or MASTER_BYTES) if trained.spec.kind == "qlora" else None
    return ModelStates(
        params=trained.params, trainable=trained.trained_params, optimizer_bytes=per_trained * trained.trained_params,
        compute_copy_bytes=states.compute_copy_bytes, largest_unit_params=states.largest_unit_params,
        root_params=states.root_params, frozen_bytes=trained.frozen_bytes, dequant_bytes=trained.dequant_bytes,
        unit_bytes_per_param=unit)


def state_memory(states: ModelStates, layout: Layout, n: int, other: float = 0.0) -> MemoryBreakdown:
    """Bytes per GPU of weights, gradients, optimizer state and buffers (activations 0); `other`:
    the step's traced batch-independent temporaries."""
    p, t = float(states.params), float(states.trainable)
    copied = t if states.frozen_bytes else p  # frozen weights compute as stored: no second copy
    params = states.stored_bytes / (n if layout == "fsdp" else 1)
    grads = GRAD_BYTES * t / (n if layout in ("zero2", "fsdp") else 1)
    optimizer = states.optimizer_bytes / (1 if layout == "ddp" else n)
    if layout == "fsdp":
        unit = float(states.largest_unit_params)
        # a unit's gradient buffer holds its trained share (LoRA: the adapters, spread over the layers)
        buffers = (UNITS_IN_FLIGHT * unit * (states.unit_bytes_per_param or states.gathered_bytes)
                   + unit * GRAD_BYTES * copied / p)
    else:
        buffers = states.compute_copy_bytes * copied + (BUCKET_BYTES if n > 1 else 0.0)
    buffers += states.dequant_bytes
    return MemoryBreakdown(params=params, grads=grads, optimizer=optimizer, buffers=buffers, activations=0.0,
                           other=other)


@dataclass(frozen=True)
class Collectives:
    """Bytes each GPU sends in one optimizer step, by collective."""

    all_reduce: float = 0.0
    all_gather: float = 0.0
    reduce_scatter: float = 0.0

    @property
    def total(self) -> float:
        return self.all_reduce + self.all_gather + self.reduce_scatter


def collectives(states: ModelStates, layout: Layout, n: int, accumulation: int = 1) -> Collectives:
    """Ring bytes per GPU per optimizer step of `accumulation` micro-batches."""
    if n <= 1:
        return Collectives()
    f = (n - 1) / n
    grads = GRAD_BYTES * states.trainable
    if layout == "ddp":  # gradients accumulate locally (no_sync), one all-reduce per step
        return Collectives(all_reduce=2 * f * grads)
    updated = f * MASTER_BYTES * states.trainable  # the updated shards all-gathered after the step
    if layout == "zero1":
        return Collectives(all_gather=updated, reduce_scatter=f * grads)
    if layout == "zero2":
        return Collectives(all_gather=updated, reduce_scatter=accumulation * f * grads)
    # fsdp: every unit gathered for forward; all but the root again for backward.
    gathered = states.gathered_bytes
    per_micro = f * gathered * (2 * states.params - states.root_params)
    return Collectives(all_gather=accumulation * per_micro, reduce_scatter=accumulation * f * grads)


def exposed_seconds(comm_bytes: float, link_gbs: float, compute_s: float, overlap: float) -> float:
    """Communication time not hidden: `overlap` of it runs behind compute, never more than the compute."""
    if comm_bytes <= 0:
        return 0.0
    if link_gbs <= 0:
        raise ValueError("no GPU-to-GPU link bandwidth for a multi-GPU layout")
    seconds = comm_bytes / (link_gbs * 1e9)
    return seconds - min(overlap * seconds, compute_s)


def optimizer_share(layout: Layout, n: int) -> float:
    """Fraction of the optimizer step each GPU runs: its shard under the ZeRO layouts."""
    return 1.0 if layout == "ddp" else 1.0 / n


def describe(layout: Layout, checkpointing: Checkpointing) -> str:
    names = {"ddp": "DDP", "zero1": "ZeRO-1", "zero2": "ZeRO-2", "fsdp": "FSDP (ZeRO-3)"}
    return f"{names[layout]}, {checkpointing} activation checkpointing"

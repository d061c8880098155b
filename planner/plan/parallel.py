"""Parallel layouts over N nodes of g GPUs: memory per GPU and bytes on the wire per step.

n = N*g GPUs in one data-parallel group (Rajbhandari et al. 2020, "ZeRO"; torch FSDP2 `fully_shard`):
- ddp:   every GPU keeps weights, gradients and optimizer state; gradients all-reduced once a step.
- zero1: optimizer state sharded 1/n; gradients reduce-scattered, updated weights all-gathered.
- zero2: gradients sharded too: reduce-scattered after every micro-batch's backward.
- fsdp:  weights sharded too (ZeRO-3) over all n GPUs: each unit (decoder layer, root) all-gathered
         for its forward and again for its backward, gradients reduce-scattered every micro-batch.
- hsdp:  fsdp inside each node (shards 1/g), replicated across the N nodes; each GPU's gradient
         shard is then all-reduced across nodes once a step. On one node it is fsdp, so it is
         offered only for N >= 2.
Mixed precision as batchfit trains it: fp32 master weights (4 B), fp32 gradients (4 B), the
optimizer's fp32 state, and under bf16 a 2-byte compute copy of the weights: ddp/zero1/zero2 keep
all of it through backward (autocast's cast cache), fsdp/hsdp only the gathered units in flight.
A LoRA, QLoRA or partial fine-tune (planner/plan/trainable.py) keeps all of that for the trained
parameters only; its frozen weights are stored once at their storage dtype (sharded under fsdp/hsdp).

Communication, in bytes each GPU sends per optimizer step, split by where they travel:
- intra-node at the GPU link L (gpus.csv link_gbs: GB/s per GPU, one direction);
- inter-node over the GPU's share of its instance's fabric, F/g, where F (bytes/s, one direction)
  is the whole instance's NICs (pricing/fabric.csv Gb/s / 8): every GPU drives its own rail.
Collectives are hierarchical (NCCL's trees and rail-aligned rings come close): for X bytes
gathered (or scattered, or S reduced) per GPU,
- all-gather / reduce-scatter over N*g GPUs: across nodes, among the GPUs of one local rank,
  (N-1)/N * X/g per GPU, so  inter seconds = (N-1)/N * X / F;  inside the node (g-1)/g * X per GPU,
  intra seconds = (g-1)/g * X / L;
- all-reduce of S: reduce-scatter in the node, all-reduce of the S/g shard across nodes, all-gather
  in the node:  intra seconds = 2(g-1)/g * S / L,  inter seconds = 2(N-1)/N * S / F.
One node (N = 1) is the plain ring, (n-1)/n of the bytes (twice for an all-reduce). The two parts
add (no pipelining between them); a flat ring would cross nodes with (n-1)/n instead of (N-1)/N of
the bytes: up to 2x more at N = 2, about the same as N grows. Per layout, with G = 4 B x trainable
parameters (fp32 gradients), W = 4 B x trainable (updated fp32 shards), A the micro-batches per step
and U = gathered bytes per parameter x (2 x params - root params) (forward + backward gathers):
  ddp:   all-reduce of G;                            zero1: reduce-scatter G, all-gather W;
  zero2: reduce-scatter G every micro-batch, all-gather W;
  fsdp:  all-gather U and reduce-scatter G every micro-batch, all over N*g GPUs;
  hsdp:  all-gather U and reduce-scatter G every micro-batch inside the node (intra only), then an
         all-reduce of each GPU's G/g shard across nodes once a step: inter seconds 2(N-1)/N * G / F.
A stated share of the total hides behind compute (step_time.py, priors.ALLREDUCE_OVERLAP).
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


def shard_group(layout: Layout, gpus_per_node: int, nodes: int = 1) -> int:
    """GPUs one copy of the states is sharded over: the node's g under hsdp, else all N*g."""
    return gpus_per_node if layout == "hsdp" else gpus_per_node * nodes


def state_memory(states: ModelStates, layout: Layout, n: int, other: float = 0.0) -> MemoryBreakdown:
    """Bytes per GPU of weights, gradients, optimizer state and buffers (activations 0), sharded over
    n GPUs (`shard_group`); `other`: the step's traced batch-independent temporaries."""
    p, t = float(states.params), float(states.trainable)
    copied = t if states.frozen_bytes else p  # frozen weights compute as stored: no second copy
    full = layout in ("fsdp", "hsdp")
    params = states.stored_bytes / (n if full else 1)
    grads = GRAD_BYTES * t / (n if layout == "zero2" or full else 1)
    optimizer = states.optimizer_bytes / (1 if layout == "ddp" else n)
    if full:
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
    """Bytes each GPU sends in one optimizer step: by collective inside its node, and across nodes."""

    all_reduce: float = 0.0
    all_gather: float = 0.0
    reduce_scatter: float = 0.0
    inter_node: float = 0.0  # over the GPU's share of the instance's fabric, every collective together

    @property
    def intra_node(self) -> float:
        return self.all_reduce + self.all_gather + self.reduce_scatter

    @property
    def total(self) -> float:
        return self.intra_node + self.inter_node

    def seconds(self, link_gbs: float, fabric_bytes_per_s: float, gpus_per_node: int) -> float:
        """Intra bytes at the GPU link (GB/s), inter bytes at the GPU's fabric share F/g (bytes/s)."""
        if self.intra_node > 0 and link_gbs <= 0:
            raise ValueError("no GPU-to-GPU link bandwidth for a multi-GPU layout")
        if self.inter_node > 0 and fabric_bytes_per_s <= 0:
            raise ValueError("no inter-node fabric bandwidth for a multi-node layout")
        intra = self.intra_node / (link_gbs * 1e9) if self.intra_node else 0.0
        inter = self.inter_node / (fabric_bytes_per_s / gpus_per_node) if self.inter_node else 0.0
        return intra + inter


def collectives(states: ModelStates, layout: Layout, n: int, accumulation: int = 1, nodes: int = 1) -> Collectives:
    """Hierarchical bytes per GPU per optimizer step of `accumulation` micro-batches on `nodes` nodes
    of n GPUs each (formulas in the module docstring)."""
    g, nn = n, nodes
    if g * nn <= 1:
        return Collectives()
    f = (g - 1) / g  # the share of gathered bytes a GPU sends inside its node
    across = (nn - 1) / nn / g  # the same across nodes, per GPU (its rail carries 1/g of the node's)
    grads = GRAD_BYTES * states.trainable
    if layout == "ddp":  # gradients accumulate locally (no_sync), one all-reduce per step
        return Collectives(all_reduce=2 * f * grads, inter_node=2 * across * grads)
    updated = MASTER_BYTES * states.trainable  # the updated shards all-gathered after the step
    if layout == "zero1":
        return Collectives(all_gather=f * updated, reduce_scatter=f * grads, inter_node=across * (updated + grads))
    if layout == "zero2":
        scattered = accumulation * grads
        return Collectives(all_gather=f * updated, reduce_scatter=f * scattered,
                           inter_node=across * (updated + scattered))
    # fsdp / hsdp: every unit gathered for forward; all but the root again for backward.
    gathered = accumulation * states.gathered_bytes * (2 * states.params - states.root_params)
    scattered = accumulation * grads
    if layout == "hsdp":  # gathers and scatters stay in the node; the G/g shard is all-reduced across
        return Collectives(all_gather=f * gathered, reduce_scatter=f * scattered, inter_node=2 * across * grads)
    return Collectives(all_gather=f * gathered, reduce_scatter=f * scattered,
                       inter_node=across * (gathered + scattered))


def exposed_seconds(comm_bytes: float, link_gbs: float, compute_s: float, overlap: float) -> float:
    """Communication time not hidden: `overlap` of it runs behind compute, never more than the compute."""
    if comm_bytes <= 0:
        return 0.0
    if link_gbs <= 0:
        raise ValueError("no GPU-to-GPU link bandwidth for a multi-GPU layout")
    return hidden_behind(comm_bytes / (link_gbs * 1e9), compute_s, overlap)


def hidden_behind(seconds: float, compute_s: float, overlap: float) -> float:
    """The part of `seconds` of communication not hidden behind `compute_s` (overlap share, capped)."""
    return seconds - min(overlap * seconds, compute_s)


def optimizer_share(layout: Layout, n: int) -> float:
    """Fraction of the optimizer step each GPU runs: its shard (of `shard_group` n GPUs) under the ZeRO layouts."""
    return 1.0 if layout == "ddp" else 1.0 / n


def describe(layout: Layout, checkpointing: Checkpointing) -> str:
    names = {"ddp": "DDP", "zero1": "ZeRO-1", "zero2": "ZeRO-2", "fsdp": "FSDP (ZeRO-3)",
             "hsdp": "HSDP (FSDP in each node, replicated across nodes)"}
    return f"{names[layout]}, {checkpointing} activation checkpointing"

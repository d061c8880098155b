"""Parallel layouts and activation checkpointing: the names a request, a trace and a plan share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# ddp: every GPU holds everything, gradients all-reduced. zero1: optimizer state sharded.
# zero2: and gradients. fsdp: and parameters (ZeRO-3, torch FSDP2 `fully_shard`) over every GPU.
# hsdp: fsdp inside each node, replicated across nodes (FSDP2 with a 2-D mesh); only on 2+ nodes.
Layout = Literal["ddp", "zero1", "zero2", "fsdp", "hsdp"]
LAYOUTS: tuple[Layout, ...] = ("ddp", "zero1", "zero2", "fsdp", "hsdp")

# none: every activation saved for backward. selective: matmul and attention outputs saved, the
# element-wise work between them recomputed. full: only each decoder layer's input saved, the
# layer's forward recomputed in backward (about one more forward pass).
Checkpointing = Literal["none", "selective", "full"]
CHECKPOINTING: tuple[Checkpointing, ...] = ("none", "selective", "full")


class MemoryBreakdown(BaseModel):
    """Bytes per GPU of one candidate, by what holds them."""

    model_config = ConfigDict(extra="forbid")

    params: float = Field(description="stored (master) weights on this GPU: the shard under fsdp and hsdp")
    grads: float = Field(description="gradients: the shard under zero2, fsdp and hsdp")
    optimizer: float = Field(description="optimizer state: the shard under zero1, zero2, fsdp and hsdp")
    buffers: float = Field(description="compute-dtype weight copies, all-gather and bucket buffers in flight")
    activations: float = Field(description="activations saved for backward at the per-GPU micro-batch")
    other: float = Field(default=0.0, description="the step's batch-independent temporaries (traced)")

    @property
    def total(self) -> float:
        return self.params + self.grads + self.optimizer + self.buffers + self.activations + self.other

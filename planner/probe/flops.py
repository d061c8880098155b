"""FLOPs per training sample (forward + backward), counted on fake tensors.

torch.utils.flop_counter.FlopCounterMode counts matmuls, convolutions and attention by their
shapes, so the count needs no real data: it runs on the fake twin of the model and costs only
Python time, even for gpt2-large on a laptop. Element-wise work (norms, activations, the
optimizer) is not counted, as in the usual 6 * params * tokens convention. Causal attention is
counted as flash kernels run it, about half the score and value FLOPs (torch counts it in full).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

from planner.models.bundle import ModelBundle
from planner.probe.fake import fake_bundle, fake_mode

_aten = torch.ops.aten


def causal_fraction(q_len: int, k_len: int) -> float:
    """Share of the (query, key) pairs a causal mask keeps: query i sees keys 0..i (torch's
    top-left alignment), so T(T+1)/2 of T^2 for a square mask. Flash kernels skip the masked
    blocks, so the score and value FLOPs scale by this, about one half."""
    kept = sum(min(i + 1, k_len) for i in range(q_len))
    return kept / (q_len * k_len)


def _argument(op: torch._ops.OpOverloadPacket, name: str, args: tuple, kwargs: dict) -> object:
    """An op's argument by schema name, positional or keyword (None when left at its default)."""
    names = [a.name for a in op.default._schema.arguments]
    if name in kwargs:
        return kwargs[name]
    index = names.index(name)
    return args[index] if index < len(args) else None


def _attention(op: torch._ops.OpOverloadPacket, count: Callable[..., int], shapes: int) -> Callable[..., int]:
    """A FLOP formula for an attention op: torch's full count, scaled by the causal fraction when
    the op runs causal (torch counts causal attention in full). `shapes`: leading tensor arguments
    the formula takes (grad_out for a backward op, then q, k, v)."""

    def formula(*args: object, out_shape: object = None, **kwargs: object) -> int:
        flops = count(*args[:shapes])
        if not _argument(op, "is_causal", args, kwargs):
            return flops
        query, key = args[shapes - 3], args[shapes - 2]
        return round(flops * causal_fraction(query[-2], key[-2]))  # type: ignore[index]

    return formula


_FORWARD_OPS = (_aten._scaled_dot_product_flash_attention_for_cpu, _aten._scaled_dot_product_flash_attention,
                _aten._scaled_dot_product_efficient_attention, _aten._scaled_dot_product_cudnn_attention)
_BACKWARD_OPS = (_aten._scaled_dot_product_flash_attention_for_cpu_backward,
                 _aten._scaled_dot_product_flash_attention_backward,
                 _aten._scaled_dot_product_efficient_attention_backward,
                 _aten._scaled_dot_product_cudnn_attention_backward)
# torch registers formulas for the CUDA attention kernels only (and counts them in full even when
# causal); on a CPU, scaled_dot_product_attention lowers to the _for_cpu ops, which would count as zero.
_ATTENTION = {
    **{op: _attention(op, sdpa_flop_count, 3) for op in _FORWARD_OPS},
    **{op: _attention(op, sdpa_backward_flop_count, 4) for op in _BACKWARD_OPS},
}


@dataclass(frozen=True)
class FlopCount:
    """Forward + backward FLOPs of one sample, and the parts in convolutions and in attention."""

    per_sample: float
    conv_per_sample: float
    attention_per_sample: float

    @property
    def conv_share(self) -> float:
        return self.conv_per_sample / self.per_sample if self.per_sample else 0.0


def count_flops(bundle: ModelBundle, device: torch.device, batch_size: int = 2) -> FlopCount:
    """FLOPs of one training step on a `batch_size` batch, per sample, by class."""
    mode = fake_mode()
    twin = fake_bundle(bundle, mode, device)
    batch = bundle.make_batch(batch_size, device)
    counter = FlopCounterMode(display=False, custom_mapping=_ATTENTION)
    with mode, counter:
        twin.loss(twin.model.train(), batch).backward()
    by_op = counter.get_flop_counts().get("Global", {})
    conv = sum(n for op, n in by_op.items() if "convolution" in str(op))
    attention = sum(n for op, n in by_op.items() if "scaled_dot_product" in str(op))
    return FlopCount(counter.get_total_flops() / batch_size, conv / batch_size, attention / batch_size)


def flops_per_sample(bundle: ModelBundle, device: torch.device, batch_size: int = 2) -> tuple[float, float]:
    """(forward + backward FLOPs of one sample, the share of them in convolutions). The share
    matters because eager convolutions reach a far smaller fraction of a GPU's peak than matmuls
    do (see planner/plan/priors.py)."""
    count = count_flops(bundle, device, batch_size)
    return count.per_sample, count.conv_share

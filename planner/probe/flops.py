"""FLOPs per training sample (forward + backward), counted on fake tensors.

torch.utils.flop_counter.FlopCounterMode counts matmuls, convolutions and attention by their
shapes, so the count needs no real data: it runs on the fake twin of the model and costs only
Python time, even for gpt2-large on a laptop. Element-wise work (norms, activations, the
optimizer) is not counted, as in the usual 6 * params * tokens convention.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import (
    FlopCounterMode,
    sdpa_backward_flop_count,
    sdpa_flop_count,
)

from planner.models.bundle import ModelBundle
from planner.probe.fake import fake_bundle, fake_mode

_aten = torch.ops.aten


def _cpu_flash_forward(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_flash_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# torch registers FLOP formulas for the CUDA attention kernels only; on a CPU,
# scaled_dot_product_attention lowers to these, which would otherwise count as zero.
_CPU_ATTENTION = {
    _aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_forward,
    _aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_backward,
}


def flops_per_sample(bundle: ModelBundle, device: torch.device, batch_size: int = 2) -> tuple[float, float]:
    """(forward + backward FLOPs of one sample, the share of them in convolutions), counted on a
    `batch_size` batch. The share matters because eager convolutions reach a far smaller
    fraction of a GPU's peak than matmuls do (see planner/plan/priors.py)."""
    mode = fake_mode()
    twin = fake_bundle(bundle, mode, device)
    batch = bundle.make_batch(batch_size, device)
    counter = FlopCounterMode(display=False, custom_mapping=_CPU_ATTENTION)
    with mode, counter:
        twin.loss(twin.model.train(), batch).backward()
    total = counter.get_total_flops()
    by_op = counter.get_flop_counts().get("Global", {})
    conv = sum(n for op, n in by_op.items() if "convolution" in str(op))
    return total / batch_size, (conv / total if total else 0.0)

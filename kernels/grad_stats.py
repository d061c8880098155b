"""Gradient statistics: accumulate a micro-batch gradient and return its squared norm, one pass.

The two-batch gradient-noise-scale estimator (DESIGN.md, "Statistical efficiency") needs
|g_small|² of each micro-batch besides the accumulated gradient. Doing both in one read of
the micro-batch gradient moves 12 bytes/element for fp32 (grad + accum read, accum written)
instead of 16 with a separate norm pass.
"""

from __future__ import annotations

from typing import cast

from collections.abc import Sequence

import torch
from torch import Tensor

from ._backend import resolve_backend, tl, tl_dtype, triton
from ._multi_tensor import (
    LaunchClass,
    LaunchTables,
    launch_tables,
    load_chunk,
    store_chunk,
    typed_pointer,
)


@triton.jit
def _sqnorm_kernel(
    table_ptr,
    grad_ptrs_ptr,
    chunks_ptr,
    partials_ptr,
    ACCUM_COL: tl.constexpr,  # -1: no accumulation, norm only
    NUM_COLS: tl.constexpr,  # the last column is numel
    GRAD_DTYPE: tl.constexpr,
    ACCUM_DTYPE: tl.constexpr,
    ALIGNED: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One program per chunk of one tensor: partial Σg² in fp32, and accum += g when asked."""
    chunk = tl.program_id(0)
    row = tl.load(chunks_ptr + 2 * chunk).to(tl.int64)
    first = tl.load(chunks_ptr + 2 * chunk + 1).to(tl.int64) * BLOCK
    numel = tl.load(table_ptr + row * NUM_COLS + NUM_COLS - 1)
    grad_ptr = typed_pointer(tl.load(grad_ptrs_ptr + row), GRAD_DTYPE, ALIGNED)
    if ACCUM_COL >= 0:
        accum_ptr = typed_pointer(tl.load(table_ptr + row * NUM_COLS + ACCUM_COL), ACCUM_DTYPE, ALIGNED)
    else:
        accum_ptr = grad_ptr  # never accessed: norm only
    offsets = first + tl.arange(0, BLOCK)
    if first + BLOCK <= numel:  # a whole chunk: unmasked, vectorised
        grad_sqnorm = _sqnorm_elements(grad_ptr, accum_ptr, offsets, numel, ACCUM_COL >= 0, ACCUM_DTYPE, False)
    else:  # the tensor's last, partial chunk
        grad_sqnorm = _sqnorm_elements(grad_ptr, accum_ptr, offsets, numel, ACCUM_COL >= 0, ACCUM_DTYPE, True)
    tl.store(partials_ptr + chunk, grad_sqnorm)


@triton.jit
def _sqnorm_elements(
    grad_ptr, accum_ptr, offsets, numel, ACCUMULATE: tl.constexpr, ACCUM_DTYPE: tl.constexpr, MASKED: tl.constexpr
):
    grad = load_chunk(grad_ptr, offsets, numel, MASKED).to(tl.float32)
    if ACCUMULATE:
        accum = load_chunk(accum_ptr, offsets, numel, MASKED).to(tl.float32)
        store_chunk(accum_ptr, offsets, numel, (accum + grad).to(ACCUM_DTYPE), MASKED)
    return tl.sum(grad * grad, axis=0)


def launch_sqnorm_class(
    tables: LaunchTables,
    launch: LaunchClass,
    grad_ptrs: Tensor,
    partials: Tensor,
    *,
    grad_dtype: torch.dtype,
    aligned: bool,
    accum_col: int = -1,
    accum_dtype: torch.dtype | None = None,
) -> None:
    """Σg² of every chunk of one launch class into `partials[launch.chunk_start:]`.

    `grad_ptrs` holds the gradients' addresses in table row order; `aligned`: they and the
    table's are all 16-byte aligned. Shared with the AdamW norm pass, which runs it on the
    optimizer's own table.
    """
    if launch.chunk_count == 0:
        return
    _sqnorm_kernel[(launch.chunk_count,)](
        tables.table,
        grad_ptrs,
        launch.chunks,
        partials[launch.chunk_start :],
        ACCUM_COL=accum_col,
        NUM_COLS=tables.table.shape[1],
        GRAD_DTYPE=tl_dtype(grad_dtype),
        ACCUM_DTYPE=tl_dtype(accum_dtype or grad_dtype),
        ALIGNED=aligned,
        BLOCK=tables.block,
    )


def _accumulate_grad_sqnorm_triton(accums: list[Tensor], grads: list[Tensor]) -> Tensor:
    device = grads[0].device
    # Table columns: accum (then numel); one launch per (grad dtype, accum dtype).
    tables = launch_tables([accums], [(g.dtype, a.dtype) for g, a in zip(grads, accums)], device)
    grad_ptrs, grads_aligned = tables.addresses(grads)
    partials = torch.empty(tables.num_chunks, dtype=torch.float32, device=device)
    for launch in tables.classes:
        grad_dtype, accum_dtype = cast(tuple[torch.dtype, torch.dtype], launch.key)
        launch_sqnorm_class(
            tables,
            launch,
            grad_ptrs,
            partials,
            grad_dtype=grad_dtype,
            aligned=tables.aligned and grads_aligned,
            accum_col=0,
            accum_dtype=accum_dtype,
        )
    return partials.sum()


def accumulate_grad_sqnorm_reference(accums: list[Tensor], grads: list[Tensor]) -> Tensor:
    """Plain torch: Σ‖g‖² in fp32 (before accumulating), then accum += g."""
    sqnorm = torch.zeros((), dtype=torch.float32, device=grads[0].device)
    for accum, grad in zip(accums, grads):
        grad32 = grad.float()
        sqnorm += grad32.square().sum()
        accum.copy_(accum.float() + grad32)
    return sqnorm


def accumulate_grad_sqnorm(
    accum: Tensor | Sequence[Tensor],
    grads: Tensor | Sequence[Tensor],
    *,
    backend: str | None = None,
) -> Tensor:
    """`accum += grads` in place; returns ‖grads‖² (this micro-batch only) as a 0-d fp32 tensor.

    `accum` and `grads` are matching tensors or matching lists of tensors (same shapes, any of
    fp32/bf16/fp16, each pair contiguous). Sums in fp32; nothing waits for the device.
    """
    accums = [accum] if isinstance(accum, Tensor) else list(accum)
    grad_list = [grads] if isinstance(grads, Tensor) else list(grads)
    if len(accums) != len(grad_list):
        raise ValueError(f"{len(accums)} accumulators for {len(grad_list)} gradients")
    if not grad_list:
        raise ValueError("accumulate_grad_sqnorm needs at least one gradient")
    device = grad_list[0].device
    for a, g in zip(accums, grad_list):
        if a.shape != g.shape or a.device != device or g.device != device:
            raise ValueError(f"accumulator {tuple(a.shape)} on {a.device} vs gradient {tuple(g.shape)} on {g.device}")
    if resolve_backend(backend, device) == "triton":
        for t in (*accums, *grad_list):
            if not t.is_contiguous():
                raise ValueError("the Triton backend needs contiguous accumulators and gradients")
        return _accumulate_grad_sqnorm_triton(accums, grad_list)
    return accumulate_grad_sqnorm_reference(accums, grad_list)

"""Fused token collation: one flat token buffer + offsets → a padded or a packed batch.

Sequences arrive as `flat` (all tokens back to back) and `offsets` (int64, B+1: sequence b is
flat[offsets[b]:offsets[b+1]]). One kernel launch writes every output, so the host copies
only the flat int buffer to the GPU instead of four padded int64 tensors.

Conventions (both layouts): truncation keeps a sequence's first `max_len` tokens;
position_ids count 0..len-1 over real tokens; labels are next-token targets inside one
sequence: labels[t] = input_ids[t+1], with -100 on each sequence's last token and on padding.
Output shapes depend on the sequence lengths, so `offsets` is read on the host (keep it on the
CPU; a device tensor is copied back, which waits for the device).
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from torch import Tensor

from ._backend import resolve_backend, tl, triton
from ._multi_tensor import to_device

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss's default ignore_index
_BLOCK = 1024  # tokens per program


@triton.jit(do_not_specialize=["seq_len", "pad_id"])
def _collate_padded_kernel(
    flat_ptr,
    spans_ptr,
    input_ids_ptr,
    attention_mask_ptr,
    position_ids_ptr,
    labels_ptr,
    seq_len,
    pad_id,
    LEFT_PAD: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Program (b, j): columns [j·BLOCK, (j+1)·BLOCK) of row b of every (B, seq_len) output."""
    b = tl.program_id(0).to(tl.int64)
    num_rows = tl.num_programs(0)
    start = tl.load(spans_ptr + b)  # spans: starts [B] then (truncated) lengths [B]
    length = tl.load(spans_ptr + num_rows + b)
    cols = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_row = cols < seq_len
    if LEFT_PAD:  # k: index of the token in its sequence
        k = cols - (seq_len - length)
    else:
        k = cols
    real = in_row & (k >= 0) & (k < length)
    has_next = real & (k + 1 < length)
    tokens = tl.load(flat_ptr + start + k, mask=real, other=0).to(tl.int64)
    next_tokens = tl.load(flat_ptr + start + k + 1, mask=has_next, other=0).to(tl.int64)
    out = b * seq_len + cols
    tl.store(input_ids_ptr + out, tl.where(real, tokens, pad_id), mask=in_row)
    tl.store(attention_mask_ptr + out, real.to(tl.int64), mask=in_row)
    tl.store(position_ids_ptr + out, tl.where(real, k, 0), mask=in_row)
    tl.store(labels_ptr + out, tl.where(has_next, next_tokens, -100), mask=in_row)  # IGNORE_INDEX


@triton.jit
def _collate_packed_kernel(
    flat_ptr,
    starts_ptr,
    cu_seqlens_ptr,
    input_ids_ptr,
    position_ids_ptr,
    labels_ptr,
    BLOCK: tl.constexpr,
):
    """Program (b, j): tokens [j·BLOCK, (j+1)·BLOCK) of sequence b, written at cu_seqlens[b]."""
    b = tl.program_id(0)
    start = tl.load(starts_ptr + b)
    out_start = tl.load(cu_seqlens_ptr + b).to(tl.int64)
    length = tl.load(cu_seqlens_ptr + b + 1).to(tl.int64) - out_start
    k = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    real = k < length
    has_next = k + 1 < length
    tokens = tl.load(flat_ptr + start + k, mask=real, other=0).to(tl.int64)
    next_tokens = tl.load(flat_ptr + start + k + 1, mask=has_next, other=0).to(tl.int64)
    out = out_start + k
    tl.store(input_ids_ptr + out, tokens, mask=real)
    tl.store(position_ids_ptr + out, k, mask=real)
    tl.store(labels_ptr + out, tl.where(has_next, next_tokens, -100), mask=real)  # IGNORE_INDEX


def _spans(flat: Tensor, offsets: Tensor, max_len: int | None) -> tuple[list[int], list[int]]:
    """Host lists of each sequence's start in `flat` and its length after truncation."""
    if flat.dim() != 1 or offsets.dim() != 1 or offsets.numel() < 1:
        raise ValueError("flat must be 1-D and offsets 1-D with B+1 entries")
    if flat.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"token ids must be int32 or int64, got {flat.dtype}")
    if max_len is not None and max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    bounds = offsets.tolist()
    starts, lengths = bounds[:-1], [end - start for start, end in itertools.pairwise(bounds)]
    if any(n < 0 for n in lengths) or (bounds and (bounds[0] < 0 or bounds[-1] > flat.numel())):
        raise ValueError("offsets must be non-decreasing and within the flat buffer")
    if max_len is not None:
        lengths = [min(n, max_len) for n in lengths]
    return starts, lengths


def _padded_reference(
    flat: Tensor, starts: list[int], lengths: list[int], seq_len: int, pad_id: int, left: bool
) -> dict[str, Tensor]:
    batch = len(starts)
    out = {
        "input_ids": torch.full((batch, seq_len), pad_id, dtype=torch.int64),
        "attention_mask": torch.zeros((batch, seq_len), dtype=torch.int64),
        "position_ids": torch.zeros((batch, seq_len), dtype=torch.int64),
        "labels": torch.full((batch, seq_len), IGNORE_INDEX, dtype=torch.int64),
    }
    flat = flat.to("cpu", torch.int64)
    for b, (start, n) in enumerate(zip(starts, lengths)):
        tokens = flat[start : start + n]
        cols = slice(seq_len - n, seq_len) if left else slice(0, n)
        out["input_ids"][b, cols] = tokens
        out["attention_mask"][b, cols] = 1
        out["position_ids"][b, cols] = torch.arange(n)
        out["labels"][b, cols][: max(n - 1, 0)] = tokens[1:]
    return out


def collate_tokens(
    flat: Tensor,
    offsets: Tensor,
    *,
    max_len: int | None = None,
    pad_id: int = 0,
    padding_side: Literal["right", "left"] = "right",
    pad_to_multiple_of: int | None = None,
    device: torch.device | str | None = None,
    backend: str | None = None,
) -> dict[str, Tensor]:
    """Padded batch: `input_ids`, `attention_mask`, `position_ids`, `labels`, all int64 (B, L).

    L is the longest sequence after truncation to `max_len`, rounded up to a multiple of
    `pad_to_multiple_of`. Outputs land on `device` (default: `flat`'s device).
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    if pad_to_multiple_of is not None and pad_to_multiple_of < 1:
        raise ValueError(f"pad_to_multiple_of must be >= 1, got {pad_to_multiple_of}")
    device = torch.device(device) if device is not None else flat.device
    starts, lengths = _spans(flat, offsets, max_len)
    seq_len = max(lengths, default=0)
    if pad_to_multiple_of is not None:
        seq_len = -(-seq_len // pad_to_multiple_of) * pad_to_multiple_of
    left = padding_side == "left"
    if resolve_backend(backend, device) == "torch":
        out = _padded_reference(flat, starts, lengths, seq_len, pad_id, left)
        return {key: value.to(device) for key, value in out.items()}

    batch = len(starts)
    out = {
        key: torch.empty((batch, seq_len), dtype=torch.int64, device=device)
        for key in ("input_ids", "attention_mask", "position_ids", "labels")
    }
    if batch == 0 or seq_len == 0:
        return out
    spans = to_device(torch.tensor(starts + lengths, dtype=torch.int64), device)
    _collate_padded_kernel[(batch, triton.cdiv(seq_len, _BLOCK))](
        flat.contiguous().to(device, non_blocking=True),
        spans,
        out["input_ids"],
        out["attention_mask"],
        out["position_ids"],
        out["labels"],
        seq_len,
        pad_id,
        LEFT_PAD=left,
        BLOCK=_BLOCK,
    )
    return out


def collate_packed(
    flat: Tensor,
    offsets: Tensor,
    *,
    max_len: int | None = None,
    device: torch.device | str | None = None,
    backend: str | None = None,
) -> dict[str, Tensor]:
    """Packed batch for varlen attention: all sequences end to end in one row.

    `input_ids`, `position_ids` (restarting at 0 for each sequence), `labels` (shifted inside
    each sequence) are int64 (1, T); `cu_seqlens` is int32 (B+1) with the sequence bounds in T.
    `max_len` truncates each sequence, not the total.
    """
    device = torch.device(device) if device is not None else flat.device
    starts, lengths = _spans(flat, offsets, max_len)
    cu_seqlens = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    cu_seqlens[1:] = torch.cumsum(torch.tensor(lengths, dtype=torch.int64), 0)
    total = int(cu_seqlens[-1])
    if resolve_backend(backend, device) == "torch":
        padded = _padded_reference(flat, starts, lengths, max(lengths, default=0), 0, left=False)
        real = padded["attention_mask"].bool()
        out = {key: padded[key][real].view(1, total) for key in ("input_ids", "position_ids", "labels")}
        out["cu_seqlens"] = cu_seqlens
        return {key: value.to(device) for key, value in out.items()}

    keys = ("input_ids", "position_ids", "labels")
    out = {key: torch.empty((1, total), dtype=torch.int64, device=device) for key in keys}
    out["cu_seqlens"] = to_device(cu_seqlens, device)
    if total == 0:
        return out
    _collate_packed_kernel[(len(starts), triton.cdiv(max(lengths), _BLOCK))](
        flat.contiguous().to(device, non_blocking=True),
        to_device(torch.tensor(starts, dtype=torch.int64), device),
        out["cu_seqlens"],
        out["input_ids"],
        out["position_ids"],
        out["labels"],
        BLOCK=_BLOCK,
    )
    return out

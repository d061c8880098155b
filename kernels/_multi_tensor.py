"""Launch tables for kernels that cover many tensors in one launch (apex multi_tensor_apply, in Triton).

A multi-tensor launch reads small int64/int32 tables instead of one argument per tensor:

* the *tensor table*, one row per tensor: the addresses of the tensors that stay put between
  calls (param, moments, ...; 0 where absent), small ints (a param-group row) and, last, the
  element count;
* an *address vector* for the tensors that change every call (gradients), in table row order;
* the *chunk table*, one row per program: (tensor row, chunk index inside that tensor), each
  chunk `TABLE_BLOCK` elements. Rows are grouped by launch class (e.g. the pointer dtypes), so
  each class is one contiguous slice of the chunk table and one launch.

The kernels turn an address back into a typed pointer with `.to(tl.pointer_type(dtype))` (the
idiom of Triton's grouped-GEMM tutorial). Such a pointer's alignment is unknown to the
compiler, and a masked access is never vectorised, so a program whose chunk is whole uses
unmasked accesses on pointers declared 16-byte aligned (`ALIGNED`, when the host has checked
every address), and only a tensor's last, partial chunk is masked. Every table is cached by content, so a training loop
whose tensors keep their addresses (the caching allocator's usual behaviour) uploads nothing
after the first step; a fresh upload is a pinned, non-blocking copy and never waits for the
device.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._backend import tl, triton

# Elements per program: 2048 fp32 = 8 KiB per stream per program, 16 elements per thread at
# 4 warps, enough loads in flight to saturate HBM on a memory-bound update.
TABLE_BLOCK = 2048

# Device copies of small host tables, keyed by their full content (so never stale).
_UPLOAD_CACHE_SIZE = 32
_upload_cache: OrderedDict[tuple, Tensor] = OrderedDict()
_uploads = 0  # see uploads()


@dataclass(frozen=True)
class LaunchClass:
    """One launch: the rows of one class, as a slice of the chunk table and of the partials."""

    key: Hashable
    chunks: Tensor  # int32 [count, 2] on the device: (tensor row, chunk index in tensor)
    chunk_start: int  # first chunk of this class in the whole chunk table
    chunk_count: int


@dataclass(frozen=True)
class LaunchTables:
    table: Tensor  # int64 [rows, columns + 1] on the device: the columns, then numel
    num_rows: int
    num_chunks: int
    classes: list[LaunchClass]
    row_order: list[int]  # table row r holds input tensor row_order[r]
    device: torch.device
    aligned: bool  # every address in the table is a multiple of 16 bytes
    block: int  # elements per chunk: every kernel launched over these tables uses it as BLOCK

    def addresses(self, tensors: Sequence[Tensor]) -> tuple[Tensor, bool]:
        """int64 device vector of the tensors' addresses in table row order; all 16-byte aligned?"""
        flat = tuple(tensors[i].data_ptr() for i in self.row_order)
        vector = upload_cached(("addresses", flat), lambda: torch.tensor(flat, dtype=torch.int64), self.device)
        return vector, _aligned(flat)


def launch_tables(
    columns: Sequence[Sequence[Tensor | int | None]],
    class_keys: Sequence[Hashable],
    device: torch.device,
    block: int | None = None,
) -> LaunchTables:
    """Tables for `len(class_keys)` tensors; `columns[c][i]` is column c of tensor i.

    A column entry is a tensor (its address is stored), None (0) or an int (stored as is).
    The first column holds tensors and sets each row's element count. Rows are reordered so
    that the classes (in order of first appearance) are contiguous.
    """
    block = block or TABLE_BLOCK
    keys_in_order = list(dict.fromkeys(class_keys))
    row_order = sorted(range(len(class_keys)), key=lambda i: keys_in_order.index(class_keys[i]))
    numels = [_numel(columns, i) for i in row_order]
    flat: list[int] = []
    for i, numel in zip(row_order, numels):
        flat.extend(_entry(col[i]) for col in columns)
        flat.append(numel)
    table = upload_cached(
        ("table", len(columns) + 1, tuple(flat)),
        lambda: torch.tensor(flat, dtype=torch.int64).view(len(row_order), len(columns) + 1),
        device,
    )
    chunks = upload_cached(("chunks", block, tuple(numels)), lambda: _chunk_table(numels, block), device)
    row_keys = [class_keys[i] for i in row_order]
    counts = [-(-n // block) for n in numels]
    classes = []
    start = 0
    for key in keys_in_order:
        count = sum(c for c, k in zip(counts, row_keys) if k == key)
        classes.append(LaunchClass(key, chunks[start : start + count], start, count))
        start += count
    addresses = (_entry(col[i]) for col in columns for i in row_order if isinstance(col[i], Tensor))
    return LaunchTables(table, len(row_order), start, classes, row_order, device, _aligned(addresses), block)


def _aligned(addresses: Iterable[int]) -> bool:
    return all(a % 16 == 0 for a in addresses)


def _numel(columns: Sequence[Sequence[Tensor | int | None]], i: int) -> int:
    first = columns[0][i]
    if not isinstance(first, Tensor):
        raise ValueError("the first column of a launch table must hold a tensor in every row")
    return first.numel()


def _entry(value: Tensor | int | None) -> int:
    if value is None:
        return 0
    return value.data_ptr() if isinstance(value, Tensor) else int(value)


def _chunk_table(numels: list[int], block: int) -> Tensor:
    """int32 [chunks, 2]: for each program, its tensor row and its chunk index in that tensor."""
    counts = torch.tensor([-(-n // block) for n in numels], dtype=torch.int64)
    rows = torch.repeat_interleave(torch.arange(len(numels)), counts)
    first_chunk_of_row = torch.cumsum(counts, 0) - counts
    local = torch.arange(rows.numel()) - torch.repeat_interleave(first_chunk_of_row, counts)
    return torch.stack([rows, local], dim=1).to(torch.int32).contiguous()


def upload_cached(key: tuple, build: Callable[[], Tensor], device: torch.device) -> Tensor:
    """`build()` copied to `device`, reused while a table with the same `key` is asked for.

    The key must determine the content completely (it is the content, flattened).
    """
    key = (device, *key)
    hit = _upload_cache.get(key)
    if hit is not None:
        _upload_cache.move_to_end(key)
        return hit
    value = to_device(build(), device)
    _upload_cache[key] = value
    if len(_upload_cache) > _UPLOAD_CACHE_SIZE:
        _upload_cache.popitem(last=False)
    return value


def to_device(host: Tensor, device: torch.device) -> Tensor:
    """Host tensor onto `device` without a host sync (pinned + non_blocking on CUDA)."""
    global _uploads
    _uploads += 1
    if device.type == "cuda":
        return host.pin_memory().to(device, non_blocking=True)
    return host.to(device)


def write_in_place(device_tensor: Tensor, host: Tensor) -> None:
    """Copy `host` into `device_tensor` (same shape) without a host sync; its address stays."""
    global _uploads
    _uploads += 1
    if device_tensor.device.type == "cuda":
        host = host.pin_memory()  # the caching host allocator keeps it until the copy is done
    device_tensor.copy_(host, non_blocking=True)


def uploads() -> int:
    """Host → device table copies made in this process so far (to_device and write_in_place)."""
    return _uploads


@triton.jit
def typed_pointer(address, DTYPE: tl.constexpr, ALIGNED: tl.constexpr):
    """An int64 address as a DTYPE pointer; ALIGNED: the host checked it is 16-byte aligned."""
    pointer = address.to(tl.pointer_type(DTYPE))
    if ALIGNED:
        pointer = tl.multiple_of(pointer, 16)
    return pointer


@triton.jit
def load_chunk(pointer, offsets, numel, MASKED: tl.constexpr):
    """Elements at `offsets`; MASKED (the last chunk only) reads those below `numel`, else 0."""
    if MASKED:
        values = tl.load(pointer + offsets, mask=offsets < numel, other=0.0)
    else:
        values = tl.load(pointer + offsets)
    return values


@triton.jit
def store_chunk(pointer, offsets, numel, values, MASKED: tl.constexpr):
    if MASKED:
        tl.store(pointer + offsets, values, mask=offsets < numel)
    else:
        tl.store(pointer + offsets, values)

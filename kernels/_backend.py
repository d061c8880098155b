"""Backend choice shared by every kernel: Triton on CUDA, the torch reference on CPU.

Triton is optional. Without it the package still imports and every function runs its
torch reference. `TRITON_INTERPRET=1` must be set before this module is first imported:
Triton decides at decoration time whether a `@triton.jit` function is compiled or
interpreted, so that choice is recorded here once.
"""

from __future__ import annotations

import os
import types
from typing import Literal

import torch

try:
    import triton
    import triton.language as tl

    HAS_TRITON = True
except ImportError:  # CPU-only installs: the torch references cover everything.
    HAS_TRITON = False

    def _jit_unavailable(fn=None, **_options):
        """Stand-in for `triton.jit`: keeps the function; it is never launched without Triton."""
        return fn if fn is not None else (lambda f: f)

    triton = types.SimpleNamespace(jit=_jit_unavailable)
    # Only `tl.constexpr` is touched at import time (kernel signatures' annotations).
    tl = types.SimpleNamespace(constexpr=None)

Backend = Literal["triton", "torch"]
BACKENDS: tuple[str, ...] = ("triton", "torch")

# Recorded at import: kernels decorated now are interpreted for the life of the process.
KERNELS_INTERPRETED = HAS_TRITON and os.environ.get("TRITON_INTERPRET", "0") == "1"


def interpreting() -> bool:
    """Whether the Triton kernels run interpreted on CPU tensors right now.

    Needs both: the kernels were decorated under TRITON_INTERPRET=1, and it is still set (a
    test suite can scope it to its own tests; everything else then dispatches as usual).
    """
    return KERNELS_INTERPRETED and os.environ.get("TRITON_INTERPRET", "0") == "1"


def backend_for(device: torch.device | str | None) -> Backend:
    """Which implementation runs for tensors on `device`.

    Triton on CUDA; under `TRITON_INTERPRET=1` the Triton kernels run interpreted on CPU
    tensors too; otherwise (CPU, no Triton, other accelerators) the torch reference.
    """
    if not HAS_TRITON:
        return "torch"
    if interpreting():
        return "triton"
    device = torch.device(device) if device is not None else torch.device("cpu")
    return "triton" if device.type == "cuda" else "torch"


def resolve_backend(backend: str | None, device: torch.device | str | None) -> Backend:
    """`backend` if forced, else `backend_for(device)`; refuses Triton where it cannot run."""
    if backend is None:
        return backend_for(device)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if backend == "triton":
        if not HAS_TRITON:
            raise RuntimeError("backend='triton' requested but triton is not installed")
        device_type = torch.device(device).type if device is not None else "cpu"
        if device_type != "cuda" and not KERNELS_INTERPRETED:
            raise RuntimeError("backend='triton' on CPU tensors needs TRITON_INTERPRET=1 set before importing kernels")
    return backend  # type: ignore[return-value]


def tl_dtype(dtype: torch.dtype):
    """The Triton element type for a torch dtype (pointer casts and stores need it)."""
    return {
        torch.float32: tl.float32,
        torch.bfloat16: tl.bfloat16,
        torch.float16: tl.float16,
        torch.int64: tl.int64,
        torch.int32: tl.int32,
        torch.uint8: tl.uint8,
    }[dtype]

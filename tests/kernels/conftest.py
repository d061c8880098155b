"""Kernel tests run twice where they can: interpreted on CPU, and compiled on CUDA.

TRITON_INTERPRET=1 must be set before the kernels package is imported, so it is set here, at
import time, whenever no CUDA device is present or BATCHFIT_TRITON_INTERPRET=1 asks for it.
On a CUDA machine the same tests run the compiled kernels (`-m cuda` selects only those).
"""

import os

import pytest
import torch

_INTERPRET = os.environ.get("BATCHFIT_TRITON_INTERPRET") == "1" or not torch.cuda.is_available()
if _INTERPRET:
    # Set while kernels is imported (its kernels are then interpreted for the whole process),
    # then scoped to these tests by the fixture below, so that other test suites in the same
    # session keep dispatching CPU tensors to the torch references.
    _previous = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    from kernels import _backend

    if _previous is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _previous
else:
    from kernels import _backend


@pytest.fixture(autouse=True)
def _triton_interpret_env(monkeypatch):
    if _INTERPRET:
        monkeypatch.setenv("TRITON_INTERPRET", "1")


_INTERPRETER = pytest.param(
    "cpu-interpreter",
    marks=pytest.mark.skipif(
        not _backend.KERNELS_INTERPRETED,
        reason="needs triton, and kernels imported under TRITON_INTERPRET=1 (set here unless CUDA is present)",
    ),
)
_CUDA = pytest.param(
    "cuda",
    marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")],
)
# (device, backend) for each implementation id.
_TARGETS = {
    "cpu-interpreter": (torch.device("cpu"), "triton"),
    "cpu-torch": (torch.device("cpu"), "torch"),
    "cuda": (torch.device("cuda"), "triton"),
}


@pytest.fixture(params=[_INTERPRETER, _CUDA])
def kernel_target(request) -> tuple[torch.device, str]:
    """A Triton kernel target: (device, "triton"). For kernel-vs-reference comparisons."""
    return _TARGETS[request.param]


@pytest.fixture(params=[_INTERPRETER, "cpu-torch", _CUDA])
def target(request) -> tuple[torch.device, str]:
    """Every implementation: the kernels and the torch reference. For checks against torch."""
    return _TARGETS[request.param]


@pytest.fixture
def bf16_rtol():
    """rtol for a bf16 result against torch's fp32 → bf16 cast of the same value.

    Compiled Triton and torch round to nearest even (rtol 0); the interpreter truncates,
    which may leave a result one bf16 ulp (2^-7 relative) away.
    """

    def rtol(device: torch.device, backend: str) -> float:
        interpreted = backend == "triton" and device.type == "cpu"
        return 2.0**-7 if interpreted else 0.0

    return rtol

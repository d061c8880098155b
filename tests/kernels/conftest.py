"""Kernel tests run twice where they can: interpreted on CPU, and compiled on CUDA.

TRITON_INTERPRET=1 must be set before the kernels package is imported: tests/conftest.py does
that for the session whenever no CUDA device is present or BATCHFIT_TRITON_INTERPRET=1 asks for
it, and the fixture below sets the variable again around each kernel test.
On a CUDA machine the same tests run the compiled kernels (`-m cuda` selects only those).
"""


import pytest
import torch

from kernels import _backend
from tests.conftest import INTERPRET as _INTERPRET


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

"""Session-wide setup that must happen before any test module imports the packages.

Kernel tests run the Triton kernels under the interpreter on a CPU. TRITON_INTERPRET=1 has to
be set when `kernels` is first imported (its @triton.jit functions are built then), and any
suite may import it first (through the probe, say). So it is imported here, under the
variable, which is then restored: other suites keep dispatching CPU tensors to the torch
references, and tests/kernels/conftest.py scopes the variable to the kernel tests.
"""

import os

import torch

INTERPRET = os.environ.get("BATCHFIT_TRITON_INTERPRET") == "1" or not torch.cuda.is_available()

if INTERPRET:
    _previous = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    import kernels  # noqa: F401  (imported for its side effect: kernels built for the interpreter)

    if _previous is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _previous

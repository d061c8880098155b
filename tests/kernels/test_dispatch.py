"""backend_for's rule, checked in fresh interpreters: the choice is fixed when kernels is imported."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

_REPORT_BACKENDS = """
import json, kernels
print(json.dumps({"cpu": kernels.backend_for("cpu"), "cuda": kernels.backend_for("cuda")}))
"""

_UNSET_THEN_REPORT = """
import json, os, kernels
del os.environ["TRITON_INTERPRET"]
print(json.dumps({"cpu": kernels.backend_for("cpu"), "cuda": kernels.backend_for("cuda")}))
"""

# Triton made unimportable: every public function must still run, on its torch reference.
_WITHOUT_TRITON = """
import json, sys
sys.modules["triton"] = None
import torch, kernels
params = [torch.randn(3, requires_grad=True)]
optimizer = kernels.FusedAdamW(params, lr=0.1)
params[0].sum().backward()
optimizer.step()
flat, offsets = torch.arange(1, 6), torch.tensor([0, 2, 5])
kernels.collate_tokens(flat, offsets)
kernels.collate_packed(flat, offsets)
kernels.collate_images(torch.zeros(1, 2, 2, 3, dtype=torch.uint8), [0.5] * 3, [0.5] * 3)
kernels.accumulate_grad_sqnorm(torch.zeros(3), torch.ones(3))
try:
    kernels.collate_packed(flat, offsets, backend="triton")
    forced = "ran"
except RuntimeError:
    forced = "refused"
print(json.dumps({"has_triton": kernels.HAS_TRITON, "cuda": kernels.backend_for("cuda"), "forced": forced}))
"""


def _run(code: str, interpret: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_compiled_triton_on_cuda_and_the_reference_on_cpu():
    pytest.importorskip("triton")
    assert _run(_REPORT_BACKENDS, interpret=False) == {"cpu": "torch", "cuda": "triton"}


def test_interpreter_runs_the_triton_kernels_on_cpu():
    pytest.importorskip("triton")
    assert _run(_REPORT_BACKENDS, interpret=True) == {"cpu": "triton", "cuda": "triton"}


def test_interpreter_scope_ends_when_the_variable_is_unset():
    """Kernels imported interpreted, then TRITON_INTERPRET unset: CPU goes back to the reference."""
    pytest.importorskip("triton")
    assert _run(_UNSET_THEN_REPORT, interpret=True) == {"cpu": "torch", "cuda": "triton"}


def test_imports_and_runs_without_triton():
    assert _run(_WITHOUT_TRITON, interpret=False) == {"has_triton": False, "cuda": "torch", "forced": "refused"}

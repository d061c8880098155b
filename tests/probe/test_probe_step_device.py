"""TrainStep's seams for other probes, device resolution, ceilings and versions."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from planner.errors import BadInput
from planner.models import load_model
from planner.probe import ProbeConfig, TrainStep
from planner.probe.device import (
    DEFAULT_CAP_CEILING,
    default_memory_cap,
    device_info,
    resolve_device,
    software_info,
)
from tests.probe.probe_factories import REF

CPU = torch.device("cpu")


def test_forward_backward_accumulates_when_asked():
    bundle = load_model(REF + "linear_speedup")
    step = TrainStep(bundle, CPU)
    batch = bundle.make_batch(4, CPU)
    step.forward_backward(batch)
    once = [p.grad.clone() for p in step.model.parameters()]
    step.forward_backward(batch, zero_grad=False)  # a second micro-batch on top, as noise-scale does
    assert all(torch.allclose(p.grad, 2 * g) for p, g in zip(step.model.parameters(), once))
    step.forward_backward(batch)
    assert all(torch.allclose(p.grad, g) for p, g in zip(step.model.parameters(), once))


def test_bf16_runs_under_autocast_with_fp32_weights():
    bundle = load_model("gpt-tiny")
    step = TrainStep(bundle, CPU, precision="bf16")
    loss = step.run(bundle.make_batch(2, CPU))
    assert torch.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in step.model.parameters())
    with step.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_without_a_gpu_is_bad_input():
    with pytest.raises(BadInput, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("auto") == CPU


def test_cpu_device_reports_the_cap_as_its_memory():
    info = device_info(CPU, "fp32", cap_bytes=3 * 2**30)
    assert info.kind == "cpu" and info.name and info.memory_bytes == 3 * 2**30 and info.memory_source == "cap"
    assert 0 < default_memory_cap() <= DEFAULT_CAP_CEILING


def test_software_versions():
    software = software_info()
    assert software.torch == torch.__version__ and software.batchfit and software.python


def test_config_rejects_inconsistent_settings():
    with pytest.raises(ValidationError, match="below start_batch"):
        ProbeConfig(model="mlp", start_batch=8, max_batch=4)
    with pytest.raises(ValidationError, match="resume needs a log_path"):
        ProbeConfig(model="mlp", resume=True)

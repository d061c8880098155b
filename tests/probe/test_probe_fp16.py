"""fp16 as a probe precision: autocast with a grad scaler; the report records the TF32 flags."""

from __future__ import annotations

import copy

import pytest
import torch

from planner.models.bundle import ModelBundle
from planner.probe.device import device_info
from planner.probe.step import TrainStep

CPU = torch.device("cpu")


def bundle(seed: int = 0) -> ModelBundle:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    x, y = torch.randn(64, 16), torch.randn(64, 1)
    return ModelBundle(id="tiny", model=model, make_batch=lambda b, d: (x[:b].to(d), y[:b].to(d)),
                       loss=lambda m, batch: (m(batch[0]).float() - batch[1]).square().mean(),
                       data_kind="synthetic", data_source="noise")


def test_fp16_steps_use_a_grad_scaler_and_train():
    b = bundle()
    step = TrainStep(b, CPU, "fp16")
    assert step.scaler is not None and step.scaler.get_scale() == 2.0 ** 16
    before = [p.detach().clone() for p in step.model.parameters()]
    loss = step.run(b.make_batch(64, CPU))
    assert torch.isfinite(loss) and step.scaler.get_scale() == 2.0 ** 16  # no overflow: the step was taken
    assert not any(torch.equal(p, q) for p, q in zip(step.model.parameters(), before))
    assert TrainStep(b, CPU, "bf16").scaler is None and TrainStep(b, CPU, "fp16", loss_scaling=False).scaler is None


def test_forward_backward_returns_unscaled_gradients():
    b16, b32 = bundle(), bundle()
    b32 = ModelBundle(**{**b32.__dict__, "model": copy.deepcopy(b16.model)})
    fp16, fp32 = TrainStep(b16, CPU, "fp16"), TrainStep(b32, CPU, "fp32")
    batch = b16.make_batch(64, CPU)
    fp16.forward_backward(batch)
    fp32.forward_backward(batch)
    for p16, p32 in zip(fp16.model.parameters(), fp32.model.parameters()):
        assert torch.allclose(p16.grad, p32.grad, rtol=2e-2, atol=1e-3)  # not 65536 times larger
    # accumulating a second micro-batch adds its true gradient to the first
    fp16.forward_backward(batch, zero_grad=False)
    fp32.forward_backward(batch, zero_grad=False)
    for p16, p32 in zip(fp16.model.parameters(), fp32.model.parameters()):
        assert torch.allclose(p16.grad, p32.grad, rtol=2e-2, atol=2e-3)


def test_an_overflowed_step_is_skipped_and_the_scale_halved():
    b = bundle()
    step = TrainStep(b, CPU, "fp16")
    assert step.scaler is not None
    step.run(b.make_batch(64, CPU))  # the scaler makes its scale tensor on first use
    step.scaler.update(1e38)  # the scaled gradients overflow fp16
    before = [p.detach().clone() for p in step.model.parameters()]
    step.forward_backward(b.make_batch(64, CPU))
    step.optimizer_step()
    assert all(torch.equal(p, q) for p, q in zip(step.model.parameters(), before))
    assert step.scaler.get_scale() == pytest.approx(5e37, rel=1e-6)


def test_the_device_info_records_the_tf32_flags():
    info = device_info(CPU, "fp32", None)
    assert info.tf32_matmul is torch.backends.cuda.matmul.allow_tf32
    assert info.tf32_cudnn is torch.backends.cudnn.allow_tf32
    assert info.tf32_cudnn is True and info.tf32_matmul is False  # torch's defaults

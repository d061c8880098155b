"""One real training step -- forward, backward, optimizer step -- reusable beyond the sweep.

The sweep times it; the memory trace runs it on fake tensors; the noise-scale estimator and
the DDP probe call `forward_backward` and `optimizer_step` separately to read the gradients
in between.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable

import torch

from planner.contracts.probe import KernelsChoice
from planner.contracts.request import Precision
from planner.errors import BadInput
from planner.models.bundle import Batch, ModelBundle
from planner.probe.device import canonical_device

LR = 1e-4  # the probe measures speed and memory, not convergence; any small LR will do


def optimizer_choice(device: torch.device, kernels: KernelsChoice) -> tuple[KernelsChoice, str]:
    """(the kernels that really run, the optimizer's name for the report) for this device.

    "torch": torch.optim.AdamW, the fused implementation on CUDA. "triton": kernels.FusedAdamW,
    whose Triton kernel runs on CUDA (or under TRITON_INTERPRET=1) and its torch reference elsewhere.
    """
    if kernels == "triton":
        from kernels import backend_for

        ran = backend_for(device)
        return ran, f"kernels.FusedAdamW ({ran})"
    return "torch", "torch.optim.AdamW(fused=True)" if device.type == "cuda" else "torch.optim.AdamW"


def make_optimizer(params: Iterable[torch.nn.Parameter], device: torch.device,
                   kernels: KernelsChoice) -> torch.optim.Optimizer:
    """AdamW as the user would run it (see optimizer_choice)."""
    if kernels == "triton":
        from kernels import FusedAdamW

        return FusedAdamW(params, lr=LR)
    return torch.optim.AdamW(params, lr=LR, fused=device.type == "cuda" or None)


class TrainStep:
    """A bundle's model on `device` with its optimizer, ready to take real training steps.

    precision "bf16" runs forward and loss under torch.autocast(bfloat16); weights, gradients
    and optimizer state stay fp32, as in ordinary mixed-precision training.
    """

    def __init__(self, bundle: ModelBundle, device: torch.device, precision: Precision = "fp32",
                 kernels: KernelsChoice = "torch"):
        self.bundle = bundle
        self.device = device = canonical_device(device)
        self.precision = precision
        # Module.to() cannot move the fake twins the memory trace uses, and they are made on
        # `device` already; a real model elsewhere is moved.
        on_device = all(t.device == device for t in itertools.chain(bundle.model.parameters(), bundle.model.buffers()))
        self.model = (bundle.model if on_device else bundle.model.to(device)).train()
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(trainable, device, kernels)
        self.kernels_ran, self.optimizer_name = optimizer_choice(device, kernels)
        self._loss_checked = False

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward_backward(self, batch: Batch, zero_grad: bool = True) -> torch.Tensor:
        """Loss and gradients of one batch (accumulated onto .grad when zero_grad is False)."""
        if zero_grad:
            self.release_grads()
        with self.autocast():
            loss = self.bundle.loss(self.model, batch)
        if not self._loss_checked:
            self._check_loss(loss)
        loss.backward()
        return loss.detach()

    def optimizer_step(self) -> None:
        self.optimizer.step()

    def run(self, batch: Batch) -> torch.Tensor:
        """One full training step; returns the (detached) loss."""
        loss = self.forward_backward(batch)
        self.optimizer_step()
        return loss

    def release_grads(self) -> None:
        """Drop the gradients (set to None), so they hold no memory between steps."""
        self.optimizer.zero_grad(set_to_none=True)

    def synchronize(self) -> None:
        """Wait for queued device work, so host-side timing and memory readings are complete."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _check_loss(self, loss: object) -> None:
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise BadInput(f"{self.bundle.id}: the loss must be a 0-d tensor, got {shape}; "
                           "reduce it in the loss function (e.g. .mean())")
        if not loss.requires_grad:
            raise BadInput(f"{self.bundle.id}: the loss does not depend on any trainable parameter; "
                           "compute it from model(batch) inside the loss function")
        self._loss_checked = True

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
    and optimizer state stay fp32, as in ordinary mixed-precision training. "fp16" runs under
    torch.autocast(float16) with a torch.amp.GradScaler, as fp16 training must (small gradients
    underflow fp16 without the scaled loss); `loss_scaling=False` leaves the scaler out, for the
    fake-tensor memory trace, where it only adds a scalar and its inf check cannot run.
    """

    def __init__(self, bundle: ModelBundle, device: torch.device, precision: Precision = "fp32",
                 kernels: KernelsChoice = "torch", loss_scaling: bool = True):
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
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" and loss_scaling else None
        self._found_inf = False  # an inf or nan among the unscaled gradients since the last step
        self._loss_checked = False

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            return torch.autocast(self.device.type, dtype=dtype)
        return contextlib.nullcontext()

    def _loss(self, batch: Batch) -> torch.Tensor:
        with self.autocast():
            loss = self.bundle.loss(self.model, batch)
        if not self._loss_checked:
            self._check_loss(loss)
        return loss

    def forward_backward(self, batch: Batch, zero_grad: bool = True) -> torch.Tensor:
        """Loss and true gradients of one batch (accumulated onto .grad when zero_grad is False).

        Under fp16 the gradients are unscaled before they are returned, so callers that read
        them (the noise scale, the DDP probe) see what an fp32 step would.
        """
        if zero_grad:
            self.release_grads()
        loss = self._loss(batch)
        if self.scaler is None:
            loss.backward()
            return loss.detach()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        earlier = [p.grad for p in params]  # already unscaled: keep them out of this backward
        for p in params:
            p.grad = None
        self.scaler.scale(loss).backward()
        grads = [p.grad for p in params if p.grad is not None]
        found_inf = torch.zeros((), device=self.device)
        inv_scale = torch.full((), 1.0 / self.scaler.get_scale(), device=self.device)
        torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale)
        self._found_inf = self._found_inf or bool(found_inf.item())
        for p, before in zip(params, earlier):
            if before is not None:
                p.grad = before if p.grad is None else p.grad.add_(before)
        return loss.detach()

    def optimizer_step(self) -> None:
        """Step on the gradients forward_backward left; under fp16 an overflowed step is skipped
        and the loss scale halved, as GradScaler.step and update do."""
        if self.scaler is None:
            self.optimizer.step()
            return
        if self._found_inf:
            self.scaler.update(self.scaler.get_scale() * self.scaler.get_backoff_factor())
        else:
            self.optimizer.step()
        self._found_inf = False

    def run(self, batch: Batch) -> torch.Tensor:
        """One full training step as a user would write it; returns the (detached) loss."""
        if self.scaler is None:
            loss = self.forward_backward(batch)
            self.optimizer_step()
            return loss
        self.release_grads()
        loss = self._loss(batch)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()

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

"""Peak training memory of one step, measured (CPU) or predicted without allocating (fake tensors).

On a CPU there is no allocator statistic like `torch.cuda.max_memory_allocated`, so the probe
counts it: a TorchDispatchMode sees every tensor an op creates, keys it by its storage, and
notices a storage's death through a weak reference. Live bytes = the tensors alive when the
step starts (weights, optimizer state, batch) + storages created since and still alive; the
peak of that is what a GPU would need for the same step, allocator rounding and workspaces
aside. Run under FakeTensorMode the same count predicts the peak with no real allocation.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from planner.contracts.probe import KernelsChoice
from planner.contracts.request import Precision
from planner.models.bundle import Batch, ModelBundle
from planner.probe.device import canonical_device
from planner.probe.fake import fake_bundle, fake_mode
from planner.probe.step import TrainStep


class LiveBytes(TorchDispatchMode):
    """Live tensor-storage bytes while active, and their peak (both in bytes)."""

    def __init__(self, alive: Iterable[torch.Tensor] = ()):
        super().__init__()
        self._storages: dict[int, tuple[StorageWeakRef, int]] = {}  # StorageImpl address -> (ref, nbytes)
        self.current = 0
        for t in alive:
            self._track(t)
        self.peak = self.current

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ref = StorageWeakRef(storage)
        known = self._storages.get(ref.cdata)
        if known is not None:
            if not known[0].expired():
                return  # a view or an in-place result: same storage, already counted
            self.current -= known[1]  # a dead storage's address reused by a new one
        self._storages[ref.cdata] = (ref, storage.nbytes())
        self.current += storage.nbytes()

    def _forget_dead(self) -> None:
        dead = [key for key, (ref, _) in self._storages.items() if ref.expired()]
        for key in dead:
            self.current -= self._storages.pop(key)[1]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        # `current` only overstates (dead storages linger until swept), so sweep only when it
        # claims a new peak: the exact count is needed there and nowhere else.
        if self.current > self.peak:
            self._forget_dead()
            self.peak = max(self.peak, self.current)
        return out


def resident_tensors(step: TrainStep, batch: Batch) -> list[torch.Tensor]:
    """What a step starts with: weights, buffers, gradients, optimizer state and the batch."""
    tensors = [*step.model.parameters(), *step.model.buffers()]
    tensors += [p.grad for p in step.model.parameters() if p.grad is not None]
    for state in step.optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    tensors += [t for t in tree_leaves(batch) if isinstance(t, torch.Tensor)]
    return tensors


def traced_step_peak(step: TrainStep, batch: Batch) -> int:
    """Run one step (gradients released first, as every step does) and return its peak live bytes."""
    step.release_grads()
    with LiveBytes(resident_tensors(step, batch)) as live:
        step.run(batch)
    return live.peak


def predict_step_peak(bundle: ModelBundle, batch_size: int, device: torch.device,
                      precision: Precision, kernels: KernelsChoice) -> int:
    """Peak bytes of a steady-state training step at `batch_size`, traced on fake tensors.

    The batch itself is made for real (it is the model's input, a small share of the step's
    memory, and user batch makers need not understand fake tensors). A first untracked step
    creates the optimizer state, so the traced one is a steady-state step like the sweep's.
    """
    device = canonical_device(device)
    mode = fake_mode()
    twin = fake_bundle(bundle, mode, device)
    batch = bundle.make_batch(batch_size, device)
    with mode:
        step = TrainStep(twin, device, precision, kernels, loss_scaling=False)  # see TrainStep
        if kernels == "triton":
            # Triton kernels cannot launch on fake tensors; FusedAdamW's torch reference keeps the
            # same state (and adds a few temporaries, so the trace errs on the safe side).
            setattr(step.optimizer, "backend", "torch")  # noqa: B010 (only FusedAdamW has it)
        step.run(batch)
        return traced_step_peak(step, batch)

"""Fake-tensor twins: a bundle's model with FakeTensor weights, to trace a step without memory.

A FakeTensor carries shape, dtype, device and storage size but no data, so a training step
traced on one costs Python time only: the memory trace and the FLOP counter both use it. Real
tensors (the batch) may flow in; they are converted on first use.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

from planner.models.bundle import ModelBundle


def fake_mode() -> FakeTensorMode:
    return FakeTensorMode(allow_non_fake_inputs=True)


def fake_bundle(bundle: ModelBundle, mode: FakeTensorMode, device: torch.device) -> ModelBundle:
    """The bundle with a deep copy of its model whose parameters and buffers are fakes on `device`.

    Seeding deepcopy's memo with the fakes means no real tensor is ever copied, and weights
    tied in the original (GPT's embedding and head) stay tied in the twin. The twin is made on
    `device` directly: Module.to() cannot move fake parameters in place.
    """
    model = bundle.model
    memo = {id(t): _fake_on(t, mode, device) for t in itertools.chain(model.parameters(), model.buffers())}
    return dataclasses.replace(bundle, model=copy.deepcopy(model, memo))


def _fake_on(t: torch.Tensor, mode: FakeTensorMode, device: torch.device) -> torch.Tensor:
    fake = mode.from_tensor(t)
    if fake.device == device:
        return fake
    with mode:
        moved = fake.to(device)
    return nn.Parameter(moved, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else moved

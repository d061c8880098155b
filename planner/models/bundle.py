"""ModelBundle: everything the probe needs to run real training steps of one model.

This is also the contract for a user's own model: `batchfit probe --model pkg.module:factory`
imports `factory`, calls it with no arguments, and expects a ModelBundle back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

Batch = Any


@dataclass
class ModelBundle:
    """A model, a way to make a batch of a given size, and the scalar loss on such a batch.

    make_batch(batch_size, device) returns whatever `loss` accepts (a tensor, a tuple, a dict);
    the probe calls it outside the timed region so data preparation is not billed to the step.
    loss(model, batch) runs the forward pass and returns a 0-d tensor; the probe calls
    .backward() on it and steps the optimizer.
    """

    id: str
    model: torch.nn.Module
    make_batch: Callable[[int, torch.device], Batch]
    loss: Callable[[torch.nn.Module, Batch], torch.Tensor]
    data_kind: Literal["real", "synthetic"]
    data_source: str
    seq_len: int | None = None

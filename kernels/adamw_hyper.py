"""AdamW's hyper-parameters as the kernels read them: a device table at a fixed address.

The update kernel reads, at run time, one float64 row per param group (lr, 1−lr·wd, 1−β1, β2,
1−β2, ε, ln β1, ln β2) and two step scalars (the clipping threshold, the stochastic-rounding
seed). They live in device tensors allocated once and written *in place*, and only when a
value changed, so a CUDA graph that captured their addresses sees every new lr, beta or
threshold on replay, and a training loop with a fixed schedule uploads nothing per step. A
write is a pinned, non-blocking copy on the current stream: ordered before the next step's
kernels (or graph replay) without a host sync. The seed is advanced on the device by the
finalize kernel, once per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._multi_tensor import write_in_place

HYPER_COLS = 8  # columns of a group's row, in the order of AdamWHyperParams.kernel_row
# Step scalars (float64): [0] max_grad_norm (read only when clipping), [1] rounding seed.
MAX_NORM, SEED = 0, 1


@dataclass(frozen=True)
class AdamWHyperParams:
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 1e-2

    def kernel_row(self) -> tuple[float, ...]:
        """Derived scalars as torch computes them (Python doubles), in kernel column order."""
        return (
            self.lr,
            1.0 - self.lr * self.weight_decay,
            1.0 - self.beta1,
            self.beta2,
            1.0 - self.beta2,
            self.eps,
            math.log(self.beta1) if self.beta1 > 0 else -math.inf,
            math.log(self.beta2) if self.beta2 > 0 else -math.inf,
        )


class HyperTable:
    """The device tensors `hyper` (float64 [groups, 8]) and `scalars` (float64 [2]).

    `writes` counts the host → device writes made so far (tests and benchmarks read it).
    """

    def __init__(self, device: torch.device, num_groups: int, seed: int) -> None:
        self.hyper = torch.zeros(num_groups, HYPER_COLS, dtype=torch.float64, device=device)
        self.scalars = torch.zeros(2, dtype=torch.float64, device=device)
        self.writes = 0
        self._rows: tuple[float, ...] | None = None
        self._max_norm: float | None = None
        write_in_place(self.scalars[SEED:], torch.tensor([float(seed)], dtype=torch.float64))

    def set(self, hypers: Sequence[AdamWHyperParams], max_grad_norm: float | None) -> None:
        """Make the device hold these values; writes only what differs from what it holds."""
        rows = tuple(v for h in hypers for v in h.kernel_row())
        if len(rows) != self.hyper.numel():
            raise ValueError(f"{len(hypers)} hyper-parameter groups for a table of {self.hyper.shape[0]}")
        if rows != self._rows:
            write_in_place(self.hyper, torch.tensor(rows, dtype=torch.float64).view(-1, HYPER_COLS))
            self._rows = rows
            self.writes += 1
        max_norm = float(max_grad_norm) if max_grad_norm is not None else 0.0
        if max_norm != self._max_norm:
            write_in_place(self.scalars[MAX_NORM:SEED], torch.tensor([max_norm], dtype=torch.float64))
            self._max_norm = max_norm
            self.writes += 1

"""What a CUDA graph of FusedAdamW's step needs: gradients at fixed addresses, and the capture.

A graph replays its kernels with the arguments they were captured with: the launch tables,
the hyper-parameter table (adamw_hyper.py, written in place) and the gradients' addresses.
The first two stay put by construction; gradients do not under the usual
`zero_grad(set_to_none=True)`, since backward then allocates new ones. `FlatGrads` gives
every parameter's `.grad` a view into one flat buffer per (device, dtype); autograd
accumulates into an existing `.grad` in place, and zeroing the buffers keeps the views, so
the addresses never move. Gradients the user manages any other way work too, as long as
their addresses are the captured ones: graph_step() checks that before each replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .adamw_hyper import HyperTable

_ALIGN_BYTES = 16  # each view starts 16-byte aligned, so the kernels' vectorised path applies


class FlatGrads:
    """One zeroed flat buffer per (device, dtype) of `params`, each param's `.grad` a view of it.

    An existing `.grad` is copied into its view. Params without `requires_grad` are left alone.
    """

    def __init__(self, params: Sequence[Tensor]) -> None:
        self._views: list[tuple[Tensor, Tensor]] = []  # (param, its grad view)
        self.buffers: list[Tensor] = []
        by_kind: dict[tuple[torch.device, torch.dtype], list[Tensor]] = {}
        for p in params:
            if p.requires_grad:
                by_kind.setdefault((p.device, p.dtype), []).append(p)
        for (device, dtype), group in by_kind.items():
            step = max(1, _ALIGN_BYTES // torch.empty((), dtype=dtype).element_size())
            offsets, total = [], 0
            for p in group:
                offsets.append(total)
                total += -(-p.numel() // step) * step
            buffer = torch.zeros(total, dtype=dtype, device=device)
            self.buffers.append(buffer)
            for p, offset in zip(group, offsets):
                view = buffer[offset : offset + p.numel()].view_as(p)
                if p.grad is not None:
                    view.copy_(p.grad)
                p.grad = view
                self._views.append((p, view))

    def zero_(self) -> None:
        """Zero every buffer in place and re-attach any view a caller replaced or dropped."""
        for buffer in self.buffers:
            buffer.zero_()
        for p, view in self._views:
            if p.grad is not view:
                p.grad = view


@dataclass(frozen=True)
class CapturedStep:
    """A captured optimizer step and what must still hold for a replay to be that step."""

    graph: torch.cuda.CUDAGraph
    layout: object  # the optimizer's layout the step was captured from (compared by identity)
    hyper: HyperTable  # the table the graph reads
    grad_addresses: tuple[int, ...]
    options: tuple  # (clip, skip_nonfinite, stochastic_rounding): baked into the kernels
    sqnorm: Tensor  # the step's ‖g‖² output, rewritten by every replay


def capture(launch: Callable[[], Tensor]) -> tuple[torch.cuda.CUDAGraph, Tensor]:
    """Record `launch()` (device work only: no host sync, no upload) in a new CUDA graph.

    Nothing runs while capturing; the kernels must have run once already (Triton compiles on
    the first launch, and compiling is not allowed inside a capture).
    """
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        output = launch()
    return graph, output

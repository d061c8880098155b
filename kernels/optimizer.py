"""`FusedAdamW`, a drop-in torch optimizer over the fused AdamW in adamw.py, with an optional
CUDA-graph step (`capture()` / `graph_step()`, see adamw_graph.py).

State per parameter, like torch's fused AdamW: `step` (fp32 0-d tensor on the param's device,
so a skipped step never needs the host), `exp_avg`, `exp_avg_sq` (fp32), and for bf16 params
`master_param`, the fp32 weights the update really applies to (the bf16 param is a rounded
copy). `state_dict()` / `load_state_dict()` round-trip all of it in fp32.

What a step reuses: the launch tables (built once per layout: param identities and which
params have grads), the hyper-parameter table (written in place when a value changes) and
the gradients' address vector (rebuilt only when a gradient moved). With `use_flat_grads()`
nothing is uploaded after the first step, and the step can be captured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from ._backend import resolve_backend
from ._multi_tensor import LaunchTables
from .adamw import AdamWTensors, adamw_reference, adamw_tables, adamw_triton
from .adamw_functional import check_contiguous, state_tensors, validate
from .adamw_graph import CapturedStep, FlatGrads, capture
from .adamw_hyper import AdamWHyperParams, HyperTable

_FP32_STATE = ("exp_avg", "exp_avg_sq", "master_param")


def _graphs_available(tables: LaunchTables) -> bool:
    """CUDA graphs exist for CUDA tensors only (a test stands in a replay for the interpreter)."""
    return tables.device.type == "cuda"


@dataclass
class GradPointers:
    """The device vector of the gradients' addresses, rebuilt only when one of them moved."""

    addresses: tuple[int, ...] | None = None
    vector: Tensor | None = None
    aligned: bool = False
    builds: int = 0

    def get(self, tables: LaunchTables, grads: list[Tensor]) -> tuple[Tensor, bool]:
        addresses = tuple(g.data_ptr() for g in grads)
        if self.vector is None or addresses != self.addresses:
            self.vector, self.aligned = tables.addresses(grads)
            self.addresses = addresses
            self.builds += 1
        return self.vector, self.aligned


@dataclass
class _Layout:
    """What a step needs besides the grads, valid while `key` (backend, param identities,
    which params have grads) holds. Rebuilt after load_state_dict / add_param_group."""

    key: tuple
    tensors: AdamWTensors  # grads left empty
    tables: LaunchTables | None = None  # None on the torch backend
    hyper: HyperTable | None = None  # None on the torch backend
    grad_pointers: GradPointers = field(default_factory=GradPointers)
    eager_steps: int = 0


class FusedAdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay, bias correction, no amsgrad) in a few launches per step.

    Beyond torch.optim.AdamW: bf16 params train on fp32 master weights, optionally rounded
    stochastically; `max_grad_norm` clips the global gradient norm without a host sync;
    `skip_nonfinite` skips the whole step (on the device) when a gradient is inf/NaN; and
    after each step `last_grad_sqnorm` holds ‖g‖² of the raw gradients (0-d fp32, on the
    device). Changing `lr` (or any hyper-parameter) between steps never recompiles.
    State tensors are replaced through `load_state_dict` only.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        *,
        max_grad_norm: float | None = None,
        skip_nonfinite: bool = False,
        stochastic_rounding: bool = False,
        seed: int = 0,
        backend: str | None = None,
    ) -> None:
        if lr < 0.0 or eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"lr, eps and weight_decay must be >= 0, got {lr}, {eps}, {weight_decay}")
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if max_grad_norm is not None and max_grad_norm <= 0.0:
            raise ValueError(f"max_grad_norm must be positive, got {max_grad_norm}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self.max_grad_norm = max_grad_norm
        self.skip_nonfinite = skip_nonfinite
        self.stochastic_rounding = stochastic_rounding
        self.backend = backend
        self.last_grad_sqnorm: Tensor | None = None
        self._seed = seed
        self._steps_taken = 0  # host-side count of steps, only to vary the rounding noise
        self._layout: _Layout | None = None
        self._flat_grads: FlatGrads | None = None
        self._captured: CapturedStep | None = None

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        layout, grads = self._prepare()
        if not grads:
            self.last_grad_sqnorm = None
            return loss
        if layout.tables is None:
            self.last_grad_sqnorm = adamw_reference(
                replace(layout.tensors, grads=grads), self._hypers(), self.max_grad_norm, self.skip_nonfinite,
                self.stochastic_rounding, self._step_seed(),
            )  # fmt: skip
        else:
            self.last_grad_sqnorm = self._launch(layout, grads)
        layout.eager_steps += 1
        self._steps_taken += 1
        return loss

    def use_flat_grads(self) -> None:
        """Give every param's `.grad` a fixed address: a view into one flat buffer per dtype.

        From then on `zero_grad()` zeroes the buffers in place (whatever `set_to_none` says)
        and backward accumulates into them, so the step's tables never change and the step
        can be captured (`capture()`). Existing gradients are kept.
        """
        self._flat_grads = FlatGrads([p for group in self.param_groups for p in group["params"]])

    def zero_grad(self, set_to_none: bool = True) -> None:
        if self._flat_grads is None:
            super().zero_grad(set_to_none)
        else:
            self._flat_grads.zero_()

    @torch.no_grad()
    def capture(self) -> None:
        """Record the step in a CUDA graph, for `graph_step()` to replay (CUDA, Triton only).

        Needs one `step()` first with the same params and gradient addresses (the kernels
        compile and the state is created there), and gradients that stay where they are:
        `use_flat_grads()`, or any scheme that keeps the addresses (checked on each replay).
        Capturing runs nothing: it does not step.
        """
        layout, grads = self._prepare()
        if layout.tables is None or not _graphs_available(layout.tables):
            raise RuntimeError("FusedAdamW.capture() needs CUDA params and the Triton backend")
        addresses = tuple(g.data_ptr() for g in grads)
        if layout.eager_steps == 0 or addresses != layout.grad_pointers.addresses:
            raise RuntimeError("FusedAdamW.capture() needs one step() first with these params and gradients")
        tables, hyper = layout.tables, layout.hyper
        assert hyper is not None  # set with the tables
        grad_ptrs, aligned = layout.grad_pointers.get(tables, grads)
        hyper.set(self._hypers(), self.max_grad_norm)
        options = self._options()
        graph, sqnorm = capture(lambda: adamw_triton(tables, grad_ptrs, aligned, hyper, *options))
        self._captured = CapturedStep(graph, layout, hyper, addresses, options, sqnorm)

    @torch.no_grad()
    def graph_step(self, check: bool = True) -> None:
        """One step by replaying the captured graph: the current lr, betas, eps, weight decay
        and max_grad_norm apply. With `check`, raises if anything the graph baked in has
        changed since capture(); that check reads every param's and grad's address (about
        0.2 µs each on the host), which `check=False` skips when the caller guarantees it."""
        captured = self._captured
        if captured is None:
            raise RuntimeError("FusedAdamW.graph_step() needs capture() first")
        if check:
            layout, grads = self._prepare()
            if layout is not captured.layout or tuple(g.data_ptr() for g in grads) != captured.grad_addresses:
                raise RuntimeError("params or gradient addresses changed since capture(): call capture() again")
            if self._options() != captured.options:
                raise RuntimeError("max_grad_norm on/off, skip_nonfinite or stochastic_rounding changed since capture()")
        hyper = captured.hyper
        hyper.set(self._hypers(), self.max_grad_norm)
        captured.graph.replay()
        self.last_grad_sqnorm = captured.sqnorm
        self._steps_taken += 1

    def _prepare(self) -> tuple[_Layout, list[Tensor]]:
        """The current layout (rebuilt when its key changed) and the grads it steps."""
        params = [p for group in self.param_groups for p in group["params"]]
        grads = [p.grad for p in params]
        backend = resolve_backend(self.backend, params[0].device)
        # The kernels keep raw addresses: a param given new storage needs a new layout.
        # (Only then are addresses read: the torch backend also runs on fake tensors.)
        identity = tuple(p.data_ptr() for p in params) if backend == "triton" else tuple(map(id, params))
        key = (backend, identity, tuple(g is not None for g in grads))
        if self._layout is None or self._layout.key != key:
            self._layout = self._build_layout(key, backend)
        return self._layout, [g for g in grads if g is not None]

    def _launch(self, layout: _Layout, grads: list[Tensor]) -> Tensor:
        assert layout.tables is not None and layout.hyper is not None
        check_contiguous(grads, "gradients")
        grad_ptrs, aligned = layout.grad_pointers.get(layout.tables, grads)
        layout.hyper.set(self._hypers(), self.max_grad_norm)
        return adamw_triton(layout.tables, grad_ptrs, aligned, layout.hyper, *self._options())

    def _hypers(self) -> list[AdamWHyperParams]:
        return [
            AdamWHyperParams(float(group["lr"]), float(group["betas"][0]), float(group["betas"][1]),
                             float(group["eps"]), float(group["weight_decay"]))
            for group in self.param_groups
        ]

    def _options(self) -> tuple[bool, bool, bool]:
        return self.max_grad_norm is not None, self.skip_nonfinite, self.stochastic_rounding

    def _step_seed(self) -> int:
        return (self._seed * 1_000_003 + self._steps_taken) % (1 << 31)

    def _build_layout(self, key: tuple, backend: str) -> _Layout:
        """Create missing state, validate everything once, build the launch tables."""
        tensors = AdamWTensors([], [], [], [], [], [], [])
        for group_index, group in enumerate(self.param_groups):
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("FusedAdamW does not support sparse gradients")
                state = self.state[param]
                if not state:
                    self._init_state(param, state)
                tensors.params.append(param)
                tensors.grads.append(param.grad)
                tensors.exp_avgs.append(state["exp_avg"])
                tensors.exp_avg_sqs.append(state["exp_avg_sq"])
                tensors.steps.append(state["step"])
                tensors.masters.append(state.get("master_param"))
                tensors.groups.append(group_index)
        layout = _Layout(key, replace(tensors, grads=[]))
        if not tensors.params:
            return layout
        validate(tensors, len(self.param_groups))
        if backend == "triton":
            check_contiguous(state_tensors(tensors), "params and state")
            layout.tables = adamw_tables(tensors)
            # The finalize kernel adds 1 before the update reads it: step k rounds with seed k.
            layout.hyper = HyperTable(layout.tables.device, len(self.param_groups), self._step_seed() - 1)
        return layout

    @staticmethod
    def _init_state(param: Tensor, state: dict[str, Tensor]) -> None:
        state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
        state["exp_avg"] = torch.zeros_like(param, dtype=torch.float32)
        state["exp_avg_sq"] = torch.zeros_like(param, dtype=torch.float32)
        if param.dtype != torch.float32:
            state["master_param"] = param.detach().to(torch.float32, copy=True)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._layout = None
        self._captured = None
        if getattr(self, "_flat_grads", None) is not None:  # __init__ adds groups before the attribute exists
            self.use_flat_grads()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's loader, then the fp32 state restored from `state_dict` itself.

        torch casts floating state to the param's dtype (bf16 moments would lose precision)
        and leaves `step` where it was saved; both are undone here from the saved values. A
        state dict without master weights (torch.optim.AdamW's) starts them from the params.
        """
        super().load_state_dict(state_dict)
        self._layout = None
        self._captured = None
        saved_ids = (i for group in state_dict["param_groups"] for i in group["params"])
        params = (p for group in self.param_groups for p in group["params"])
        for saved_id, param in zip(saved_ids, params):
            saved = state_dict["state"].get(saved_id)
            if not saved:
                continue
            state = self.state[param]
            state["step"] = saved["step"].to(device=param.device, dtype=torch.float32, copy=True).reshape(())
            for key in _FP32_STATE:
                if key in saved:
                    state[key] = saved[key].to(device=param.device, dtype=torch.float32, copy=True).contiguous()
            if param.dtype != torch.float32 and "master_param" not in saved:  # e.g. from torch's AdamW
                state["master_param"] = param.detach().to(torch.float32, copy=True)

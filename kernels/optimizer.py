"""The public forms of the fused AdamW in adamw.py: `FusedAdamW` (a drop-in torch optimizer)
and `fused_adamw` (functional), and `adamw_step`, the dispatch both share.

FusedAdamW state per parameter, like torch's fused AdamW: `step` (fp32 0-d tensor on the
param's device, so a skipped step never needs the host), `exp_avg`, `exp_avg_sq` (fp32), and
for bf16 params `master_param`, the fp32 weights the update really applies to (the bf16 param
is a rounded copy). `state_dict()` / `load_state_dict()` round-trip all of it in fp32.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ._backend import resolve_backend
from ._multi_tensor import LaunchTables
from .adamw import AdamWHyperParams, AdamWTensors, adamw_reference, adamw_tables, adamw_triton

_FP32_STATE = ("exp_avg", "exp_avg_sq", "master_param")


def validate(tensors: AdamWTensors, num_groups: int) -> None:
    """Raise unless the tensors form a well-typed AdamW step (dtypes, shapes, one device)."""
    t = tensors
    n = len(t.params)
    if n == 0:
        raise ValueError("an AdamW step needs at least one parameter")
    if any(len(x) != n for x in (t.grads, t.exp_avgs, t.exp_avg_sqs, t.steps, t.masters, t.groups)):
        raise ValueError("params, grads, exp_avgs, exp_avg_sqs, steps, masters must align")
    if any(not 0 <= g < num_groups for g in t.groups):
        raise ValueError("a group index is out of range")
    device = t.params[0].device
    for p, g, m, v, s, w in zip(t.params, t.grads, t.exp_avgs, t.exp_avg_sqs, t.steps, t.masters):
        if p.dtype not in (torch.float32, torch.bfloat16):
            raise TypeError(f"fp32 and bf16 parameters are supported, got {p.dtype}")
        if (p.dtype == torch.bfloat16) != (w is not None):
            raise ValueError("bf16 params need an fp32 master copy; fp32 params take none")
        fp32_state = [m, v, s] + ([w] if w is not None else [])
        if g.dtype != p.dtype or any(x.dtype != torch.float32 for x in fp32_state):
            raise TypeError("grads must have the param's dtype; moments, steps and masters fp32")
        if any(x.shape != p.shape for x in (g, m, v, *fp32_state[3:])) or s.numel() != 1:
            raise ValueError("grads, moments and masters need the param's shape; steps one element")
        if any(x.device != device for x in (p, g, *fp32_state)):
            raise ValueError("all optimizer tensors must be on one device")


def adamw_step(
    tensors: AdamWTensors,
    hypers: Sequence[AdamWHyperParams],
    *,
    max_grad_norm: float | None = None,
    skip_nonfinite: bool = False,
    stochastic_rounding: bool = False,
    seed: int = 0,
    backend: str | None = None,
    tables: LaunchTables | None = None,
) -> Tensor:
    """One AdamW step for params from several groups; returns the raw gradients' ‖g‖² (0-d fp32).

    `tables` (from `adamw_tables`) marks `tensors` as validated before and skips the table
    build: FusedAdamW passes the ones it keeps while its params and state stay where they are.
    """
    if tables is None:
        validate(tensors, len(hypers))
    options = (max_grad_norm, skip_nonfinite, stochastic_rounding, seed)
    if resolve_backend(backend, tensors.params[0].device) == "torch":
        return adamw_reference(tensors, hypers, *options)
    if tables is None:
        _check_contiguous(tensors)
        tables = adamw_tables(tensors)
    if not all(g.is_contiguous() for g in tensors.grads):
        raise ValueError("the Triton backend needs contiguous gradients")
    return adamw_triton(tables, tensors.grads, hypers, *options)


def _check_contiguous(tensors: AdamWTensors) -> None:
    """The kernels index every tensor as a flat array."""
    for t in (*tensors.params, *tensors.exp_avgs, *tensors.exp_avg_sqs, *tensors.masters):
        if t is not None and not t.is_contiguous():
            raise ValueError("the Triton backend needs contiguous params and state")


@dataclass(frozen=True)
class _Layout:
    """What a step needs besides the grads, valid while `key` (backend, param identities,
    which params have grads) holds. Rebuilt after load_state_dict / add_param_group."""

    key: tuple
    tensors: AdamWTensors  # grads left empty
    tables: LaunchTables | None  # None on the torch backend


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
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.max_grad_norm = max_grad_norm
        self.skip_nonfinite = skip_nonfinite
        self.stochastic_rounding = stochastic_rounding
        self.backend = backend
        self.last_grad_sqnorm: Tensor | None = None
        self._seed = seed
        self._steps_taken = 0  # host-side count of step() calls, only to vary the rounding noise
        self._layout: _Layout | None = None

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"]]
        grads = [p.grad for p in params]
        backend = resolve_backend(self.backend, params[0].device)
        # The kernels keep raw addresses: a param given new storage needs a new layout.
        # (Only then are addresses read: the torch backend also runs on fake tensors.)
        identity = tuple(p.data_ptr() for p in params) if backend == "triton" else tuple(map(id, params))
        key = (backend, identity, tuple(g is not None for g in grads))
        if self._layout is None or self._layout.key != key:
            self._layout = self._build_layout(key, backend)
        active_grads = [g for g in grads if g is not None]
        if not active_grads:
            self.last_grad_sqnorm = None
            return loss
        hypers = [
            AdamWHyperParams(float(group["lr"]), *group["betas"], group["eps"], group["weight_decay"])
            for group in self.param_groups
        ]
        self.last_grad_sqnorm = adamw_step(
            replace(self._layout.tensors, grads=active_grads),
            hypers,
            max_grad_norm=self.max_grad_norm,
            skip_nonfinite=self.skip_nonfinite,
            stochastic_rounding=self.stochastic_rounding,
            seed=(self._seed * 1_000_003 + self._steps_taken) % (1 << 31),
            backend=backend,
            tables=self._layout.tables,
        )
        self._steps_taken += 1
        return loss

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
        if not tensors.params:
            return _Layout(key, tensors, None)
        validate(tensors, len(self.param_groups))
        tables = None
        if backend == "triton":
            _check_contiguous(tensors)
            tables = adamw_tables(tensors)
        return _Layout(key, replace(tensors, grads=[]), tables)

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

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's loader, then the fp32 state restored from `state_dict` itself.

        torch casts floating state to the param's dtype (bf16 moments would lose precision)
        and leaves `step` where it was saved; both are undone here from the saved values. A
        state dict without master weights (torch.optim.AdamW's) starts them from the params.
        """
        super().load_state_dict(state_dict)
        self._layout = None
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


def fused_adamw(
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    state_steps: Sequence[Tensor],
    *,
    master_params: Sequence[Tensor | None] | None = None,
    lr: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    max_grad_norm: float | None = None,
    skip_nonfinite: bool = False,
    stochastic_rounding: bool = False,
    seed: int = 0,
    backend: str | None = None,
) -> Tensor:
    """Functional AdamW (one hyper-parameter set), updating everything in place.

    `state_steps` are fp32 one-element tensors on the params' device (incremented here, or
    left alone when a non-finite gradient skips the step). bf16 params need fp32
    `master_params` (None entries for fp32 params). `max_grad_norm` clips the global norm
    like `clip_grad_norm_`; `stochastic_rounding` rounds the bf16 copies stochastically with
    `seed`. Returns ‖grads‖² of the raw gradients as a 0-d fp32 tensor, without a host sync.
    """
    n = len(params)
    tensors = AdamWTensors(
        params=list(params),
        grads=list(grads),
        exp_avgs=list(exp_avgs),
        exp_avg_sqs=list(exp_avg_sqs),
        steps=list(state_steps),
        masters=list(master_params) if master_params is not None else [None] * n,
        groups=[0] * n,
    )
    return adamw_step(
        tensors,
        [AdamWHyperParams(lr, beta1, beta2, eps, weight_decay)],
        max_grad_norm=max_grad_norm,
        skip_nonfinite=skip_nonfinite,
        stochastic_rounding=stochastic_rounding,
        seed=seed,
        backend=backend,
    )

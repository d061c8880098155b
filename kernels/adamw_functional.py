"""The functional AdamW (`fused_adamw`) and the checks and dispatch FusedAdamW shares with it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._backend import resolve_backend
from .adamw import AdamWTensors, adamw_reference, adamw_tables, adamw_triton
from .adamw_hyper import AdamWHyperParams, HyperTable


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


def check_contiguous(tensors: Sequence[Tensor | None], what: str) -> None:
    """The kernels index every tensor as a flat array."""
    if not all(t is None or t.is_contiguous() for t in tensors):
        raise ValueError(f"the Triton backend needs contiguous {what}")


def state_tensors(tensors: AdamWTensors) -> list[Tensor | None]:
    return [*tensors.params, *tensors.exp_avgs, *tensors.exp_avg_sqs, *tensors.masters]


def adamw_step(
    tensors: AdamWTensors,
    hypers: Sequence[AdamWHyperParams],
    *,
    max_grad_norm: float | None = None,
    skip_nonfinite: bool = False,
    stochastic_rounding: bool = False,
    seed: int = 0,
    backend: str | None = None,
) -> Tensor:
    """One AdamW step for params from several groups; returns the raw gradients' ‖g‖² (0-d fp32).

    Builds the launch tables and a hyper-parameter table for this call alone (two small
    uploads); FusedAdamW keeps both across steps instead.
    """
    validate(tensors, len(hypers))
    if resolve_backend(backend, tensors.params[0].device) == "torch":
        return adamw_reference(tensors, hypers, max_grad_norm, skip_nonfinite, stochastic_rounding, seed)
    check_contiguous(state_tensors(tensors), "params and state")
    check_contiguous(tensors.grads, "gradients")
    tables = adamw_tables(tensors)
    # The finalize kernel adds 1 before the update reads it: the update sees `seed`.
    hyper = HyperTable(tables.device, len(hypers), seed - 1)
    hyper.set(hypers, max_grad_norm)
    grad_ptrs, grads_aligned = tables.addresses(tensors.grads)
    return adamw_triton(
        tables, grad_ptrs, grads_aligned, hyper, max_grad_norm is not None, skip_nonfinite, stochastic_rounding
    )


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

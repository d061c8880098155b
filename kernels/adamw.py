"""Fused AdamW over every parameter of a model in a fixed, small number of launches.

Math (fp32 throughout, mirrors torch.optim.AdamW's single-tensor path, amsgrad off):
    step += 1
    g      = grad · clip_coef
    w      = w · (1 − lr·wd)                      decoupled weight decay
    m      = m + (1 − β1)(g − m)                  torch's lerp
    v      = v·β2 + (1 − β2)·g²
    w      = w − lr/(1 − β1^step) · m / (√v / √(1 − β2^step) + ε)

Traffic, fp32 params: 28 bytes/param = p, g, m, v read (16) + p, m, v written (12).
bf16 params with fp32 master: also 28 = g(2) + master, m, v (12) read + master, m, v (12) + p(2)
written; the bf16 copy is never read.

Launch scheme (see _multi_tensor.py): one tensor-table row per parameter with the addresses
of param, exp_avg, exp_avg_sq, master, step and its param-group index, a vector of the grads'
addresses (they move between steps), one program per 2048-element chunk. One update launch per
parameter dtype (fp32, bf16): a model is 1 or 2 update launches however many tensors it has.
FusedAdamW builds the table once and, per step, only checks the addresses it depends on.

Hyper-parameters are runtime values read from device memory (adamw_hyper.py): a float64 row
per param group and the step scalars (clipping threshold, rounding seed), written in place
when they change; the step count is read from each parameter's device `step` tensor. Neither
a new LR nor a new step recompiles or re-uploads anything, and since the kernels take no
per-step value as an argument, a step can be captured in a CUDA graph (adamw_graph.py) once
its gradients stay at fixed addresses. Bias corrections are computed in float64 from ln β,
like torch's Python-double scalars.

Gradient norm and clipping. Without clipping or the non-finite skip, the update pass also
writes per-chunk Σg² (the norm costs no extra traffic) and the squared norm is their sum.
Clipping needs the norm *before* any update, so with `max_grad_norm` or `skip_nonfinite` a
norm pass reads the grads first (+4 bytes/param fp32, +2 bf16), a one-program finalize kernel
turns its partials into the norm, the clip coefficient (torch's clip_grad_norm_ formula) and
an apply flag (0 when the norm is not finite), and the update reads those from device memory:
no host sync anywhere. A skipped step leaves params, moments and step counts untouched.
The squared norm reported is always that of the raw (unclipped) gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from dataclasses import dataclass

import torch
from torch import Tensor

from ._backend import tl, tl_dtype, triton
from ._multi_tensor import (
    LaunchTables,
    launch_tables,
    load_chunk,
    store_chunk,
    typed_pointer,
)
from .adamw_hyper import AdamWHyperParams, HyperTable
from .grad_stats import launch_sqnorm_class

# Tensor table (int64), one row per param; the kernels read these columns by number:
# 0 param, 1 exp_avg, 2 exp_avg_sq, 3 master (0 if none), 4 step (addresses),
# 5 param-group row, 6 numel.
_STEP, _NUM_COLS = 4, 7
# Device scratch written by the finalize kernel: [clip coefficient, apply flag, ‖g‖²].
_SQNORM = 2
_FINALIZE_BLOCK = 1024


@dataclass(frozen=True)
class UpdateLaunch:
    """Shape of the update launch: elements per program (the chunk) and warps per program.

    One module-level setting so bench/kernel_bench/adamw_tuning.py can sweep it; the values
    in use are the ones that measured best there (see bench/README.md).
    """

    block: int = 1024
    num_warps: int = 4


UPDATE_LAUNCH = UpdateLaunch()

# torch.nn.utils.clip_grad_norm_'s guard against a zero norm.
_CLIP_EPS = 1e-6


@triton.jit(do_not_specialize=["num_rows", "num_partials"])
def _adamw_finalize_kernel(
    table_ptr,
    num_rows,
    partials_ptr,
    num_partials,
    clip_ptr,
    scalars_ptr,
    HAS_NORM: tl.constexpr,
    CLIP: tl.constexpr,
    SKIP_NONFINITE: tl.constexpr,
    STEP_COL: tl.constexpr,
    NUM_COLS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Single program: norm → clip coefficient and apply flag; every step += apply; seed += 1."""
    lane = tl.arange(0, BLOCK)
    apply = tl.full((), 1.0, tl.float32)
    if HAS_NORM:
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for start in range(0, num_partials, BLOCK):
            acc += tl.load(partials_ptr + start + lane, mask=start + lane < num_partials, other=0.0)
        sqnorm = tl.sum(acc, axis=0)
        clip_coef = tl.full((), 1.0, tl.float32)
        if CLIP:  # clip_grad_norm_: coef = min(1, max_norm / (‖g‖ + 1e-6))
            max_norm = tl.load(scalars_ptr + 0).to(tl.float32)  # layout: adamw_hyper.MAX_NORM
            clip_coef = max_norm / (tl.sqrt(sqnorm) + 1e-6)
            clip_coef = tl.where(clip_coef < 1.0, clip_coef, 1.0)
        if SKIP_NONFINITE:
            # x − x is 0 for finite x and NaN for ±inf/NaN; an fp32 overflow of Σg² counts as inf.
            apply = tl.where(sqnorm - sqnorm == 0.0, 1.0, 0.0)
        tl.store(clip_ptr + 0, clip_coef)  # layout: see _SQNORM
        tl.store(clip_ptr + 1, apply)
        tl.store(clip_ptr + 2, sqnorm)
    for start in range(0, num_rows, BLOCK):
        rows = (start + lane).to(tl.int64)
        in_table = rows < num_rows
        addresses = tl.load(table_ptr + rows * NUM_COLS + STEP_COL, mask=in_table, other=0)
        step_ptrs = addresses.to(tl.pointer_type(tl.float32))
        steps = tl.load(step_ptrs, mask=in_table, other=0.0)
        tl.store(step_ptrs, steps + apply, mask=in_table)
    tl.store(scalars_ptr + 1, tl.load(scalars_ptr + 1) + 1.0)  # a fresh rounding stream per step


@triton.jit
def _adamw_kernel(
    table_ptr,
    grad_ptrs_ptr,
    chunks_ptr,
    hyper_ptr,
    clip_ptr,
    scalars_ptr,
    partials_ptr,
    PARAM_DTYPE: tl.constexpr,
    HAS_MASTER: tl.constexpr,
    STOCHASTIC_ROUNDING: tl.constexpr,
    NORM_IN_PASS: tl.constexpr,
    ALIGNED: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One program per chunk: the AdamW update of BLOCK elements of one parameter."""
    chunk = tl.program_id(0)
    row = tl.load(chunks_ptr + 2 * chunk).to(tl.int64)
    row_ptr = table_ptr + row * 7  # 7 columns
    first = tl.load(chunks_ptr + 2 * chunk + 1).to(tl.int64) * BLOCK
    # The fp32 weights the update applies to: the master copy, or the fp32 param itself.
    if HAS_MASTER:
        weight_ptr = typed_pointer(tl.load(row_ptr + 3), tl.float32, ALIGNED)
    else:
        weight_ptr = typed_pointer(tl.load(row_ptr + 0), tl.float32, ALIGNED)
    param_ptr = typed_pointer(tl.load(row_ptr + 0), PARAM_DTYPE, ALIGNED)
    grad_ptr = typed_pointer(tl.load(grad_ptrs_ptr + row), PARAM_DTYPE, ALIGNED)  # grads share the dtype
    exp_avg_ptr = typed_pointer(tl.load(row_ptr + 1), tl.float32, ALIGNED)
    exp_avg_sq_ptr = typed_pointer(tl.load(row_ptr + 2), tl.float32, ALIGNED)
    step = tl.load(tl.load(row_ptr + 4).to(tl.pointer_type(tl.float32))).to(tl.float64)
    numel = tl.load(row_ptr + 6)

    hyper = hyper_ptr + tl.load(row_ptr + 5) * 8  # 8 float64 per group
    lr = tl.load(hyper + 0)
    decay = tl.load(hyper + 1).to(tl.float32)
    one_minus_beta1 = tl.load(hyper + 2).to(tl.float32)
    beta2 = tl.load(hyper + 3).to(tl.float32)
    one_minus_beta2 = tl.load(hyper + 4).to(tl.float32)
    eps = tl.load(hyper + 5).to(tl.float32)
    bias_correction1 = 1.0 - tl.exp(step * tl.load(hyper + 6))
    bias_correction2 = 1.0 - tl.exp(step * tl.load(hyper + 7))
    step_size = (lr / bias_correction1).to(tl.float32)
    bias_correction2_sqrt = tl.sqrt(bias_correction2).to(tl.float32)

    seed = tl.full((), 0, tl.int64)
    if STOCHASTIC_ROUNDING:
        seed = tl.load(scalars_ptr + 1).to(tl.int64)  # layout: adamw_hyper.SEED
    clip_coef = tl.full((), 1.0, tl.float32)
    if not NORM_IN_PASS:
        clip_coef = tl.load(clip_ptr + 0)
        # A skipped step sees every tensor as empty: nothing is read or written.
        numel = tl.where(tl.load(clip_ptr + 1) != 0.0, numel, 0)
    offsets = first + tl.arange(0, BLOCK)
    noise_offsets = chunk * BLOCK + tl.arange(0, BLOCK)  # one random stream per element
    if first + BLOCK <= numel:  # a whole chunk: unmasked, vectorised
        grad_sqnorm = _adamw_elements(
            weight_ptr, param_ptr, grad_ptr, exp_avg_ptr, exp_avg_sq_ptr, offsets, numel,
            clip_coef, decay, one_minus_beta1, beta2, one_minus_beta2, eps, step_size, bias_correction2_sqrt,
            noise_offsets, seed, PARAM_DTYPE, HAS_MASTER, STOCHASTIC_ROUNDING, False,
        )  # fmt: skip
    else:  # a tensor's last, partial chunk (or a skipped step)
        grad_sqnorm = _adamw_elements(
            weight_ptr, param_ptr, grad_ptr, exp_avg_ptr, exp_avg_sq_ptr, offsets, numel,
            clip_coef, decay, one_minus_beta1, beta2, one_minus_beta2, eps, step_size, bias_correction2_sqrt,
            noise_offsets, seed, PARAM_DTYPE, HAS_MASTER, STOCHASTIC_ROUNDING, True,
        )  # fmt: skip
    if NORM_IN_PASS:
        tl.store(partials_ptr + chunk, grad_sqnorm)


@triton.jit
def _adamw_elements(
    weight_ptr,
    param_ptr,
    grad_ptr,
    exp_avg_ptr,
    exp_avg_sq_ptr,
    offsets,
    numel,
    clip_coef,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    eps,
    step_size,
    bias_correction2_sqrt,
    noise_offsets,
    seed,
    PARAM_DTYPE: tl.constexpr,
    HAS_MASTER: tl.constexpr,
    STOCHASTIC_ROUNDING: tl.constexpr,
    MASKED: tl.constexpr,
):
    """The update of one chunk's elements; returns Σg² of the raw gradients."""
    grad = load_chunk(grad_ptr, offsets, numel, MASKED).to(tl.float32)
    weight = load_chunk(weight_ptr, offsets, numel, MASKED)
    exp_avg = load_chunk(exp_avg_ptr, offsets, numel, MASKED)
    exp_avg_sq = load_chunk(exp_avg_sq_ptr, offsets, numel, MASKED)
    grad_sqnorm = tl.sum(grad * grad, axis=0)
    grad = grad * clip_coef

    weight = weight * decay
    exp_avg = exp_avg + one_minus_beta1 * (grad - exp_avg)
    exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * grad * grad
    denom = tl.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
    weight = weight - step_size * (exp_avg / denom)

    store_chunk(exp_avg_ptr, offsets, numel, exp_avg, MASKED)
    store_chunk(exp_avg_sq_ptr, offsets, numel, exp_avg_sq, MASKED)
    store_chunk(weight_ptr, offsets, numel, weight, MASKED)
    if HAS_MASTER:
        if STOCHASTIC_ROUNDING:
            # bf16 keeps the top 16 bits of an fp32: add 16 random low bits, then truncate.
            # Rounds |w| up with probability (dropped bits)/2^16, so E[bf16(w)] = w.
            noise = tl.randint(seed, noise_offsets).to(tl.uint32, bitcast=True)
            bits = weight.to(tl.uint32, bitcast=True)
            rounded = ((bits + (noise & 0xFFFF)) & 0xFFFF0000).to(tl.float32, bitcast=True)
            weight = tl.where(weight != weight, weight, rounded)
        store_chunk(param_ptr, offsets, numel, weight.to(PARAM_DTYPE), MASKED)
    return grad_sqnorm


@dataclass
class AdamWTensors:
    """Per-parameter tensors of one AdamW step, index-aligned."""

    params: list[Tensor]
    grads: list[Tensor]
    exp_avgs: list[Tensor]  # fp32
    exp_avg_sqs: list[Tensor]  # fp32
    steps: list[Tensor]  # fp32 one-element, on the params' device
    masters: list[Tensor | None]  # fp32 copy for bf16 params, None for fp32 params
    groups: list[int]  # row of each param's group in the hyper-parameter list


def adamw_tables(tensors: AdamWTensors) -> LaunchTables:
    """The launch tables for everything but the grads: reusable while those tensors stay put."""
    t = tensors
    columns: list[Sequence[Tensor | int | None]] = [t.params, t.exp_avgs, t.exp_avg_sqs, t.masters, t.steps, t.groups]
    return launch_tables(columns, [p.dtype for p in t.params], t.params[0].device, block=UPDATE_LAUNCH.block)


def adamw_triton(
    tables: LaunchTables,
    grad_ptrs: Tensor,
    grads_aligned: bool,
    hyper: HyperTable,
    clip: bool,
    skip_nonfinite: bool,
    stochastic_rounding: bool,
) -> Tensor:
    """Launch the step: [norm pass], finalize, update (see the module docstring).

    `grad_ptrs`: the grads' addresses in table row order (`tables.addresses`); `hyper` holds
    the hyper-parameters and, with `clip`, the threshold. Reads nothing from the host and
    allocates only device scratch, so it can run under CUDA graph capture.
    """
    device = tables.device
    aligned = tables.aligned and grads_aligned
    partials = torch.empty(tables.num_chunks, dtype=torch.float32, device=device)
    clip_state = torch.empty(3, dtype=torch.float32, device=device)
    norm_first = clip or skip_nonfinite
    if norm_first:
        for launch in tables.classes:
            launch_sqnorm_class(tables, launch, grad_ptrs, partials, grad_dtype=cast(torch.dtype, launch.key),
                                aligned=aligned)
    _adamw_finalize_kernel[(1,)](
        tables.table,
        tables.num_rows,
        partials,
        tables.num_chunks,
        clip_state,
        hyper.scalars,
        HAS_NORM=norm_first,
        CLIP=clip,
        SKIP_NONFINITE=skip_nonfinite,
        STEP_COL=_STEP,
        NUM_COLS=_NUM_COLS,
        BLOCK=_FINALIZE_BLOCK,
    )
    for launch in tables.classes:
        if launch.chunk_count == 0:
            continue
        param_dtype = launch.key
        _adamw_kernel[(launch.chunk_count,)](
            tables.table,
            grad_ptrs,
            launch.chunks,
            hyper.hyper,
            clip_state,
            hyper.scalars,
            partials[launch.chunk_start :],
            PARAM_DTYPE=tl_dtype(cast(torch.dtype, param_dtype)),
            HAS_MASTER=param_dtype != torch.float32,
            STOCHASTIC_ROUNDING=stochastic_rounding and param_dtype == torch.bfloat16,
            NORM_IN_PASS=not norm_first,
            ALIGNED=aligned,
            BLOCK=tables.block,
            num_warps=UPDATE_LAUNCH.num_warps,
        )
    return clip_state[_SQNORM] if norm_first else partials.sum()


def adamw_reference(
    tensors: AdamWTensors,
    hypers: Sequence[AdamWHyperParams],
    max_grad_norm: float | None = None,
    skip_nonfinite: bool = False,
    stochastic_rounding: bool = False,
    seed: int = 0,
) -> Tensor:
    """Plain torch, same semantics as the kernels (and, for fp32, as torch.optim.AdamW)."""
    t = tensors
    device = t.params[0].device
    sqnorm = torch.zeros((), dtype=torch.float32, device=device)
    for grad in t.grads:
        sqnorm += grad.float().square().sum()
    apply = torch.isfinite(sqnorm) if skip_nonfinite else torch.ones((), dtype=torch.bool, device=device)
    clip_coef = None
    if max_grad_norm is not None:
        clip_coef = torch.clamp(max_grad_norm / (sqnorm.sqrt() + _CLIP_EPS), max=1.0)
    generator = torch.Generator(device=device).manual_seed(seed) if stochastic_rounding else None

    for i, param in enumerate(t.params):
        h = hypers[t.groups[i]]
        t.steps[i].add_(apply.float())
        step = t.steps[i].double()
        step_size = (h.lr / (1.0 - h.beta1**step)).float()
        bias_correction2_sqrt = (1.0 - h.beta2**step).sqrt().float()
        grad = t.grads[i].float()
        if clip_coef is not None:
            grad = grad * clip_coef
        master = t.masters[i]
        weight = master if master is not None else param
        new_weight = weight * (1.0 - h.lr * h.weight_decay)
        new_exp_avg = t.exp_avgs[i].lerp(grad, 1.0 - h.beta1)
        new_exp_avg_sq = (t.exp_avg_sqs[i] * h.beta2).addcmul(grad, grad, value=1.0 - h.beta2)
        denom = new_exp_avg_sq.sqrt() / bias_correction2_sqrt + h.eps
        new_weight = new_weight - step_size * (new_exp_avg / denom)
        for old, new in ((weight, new_weight), (t.exp_avgs[i], new_exp_avg), (t.exp_avg_sqs[i], new_exp_avg_sq)):
            old.copy_(torch.where(apply, new, old))
        if master is not None:
            rounded = (_stochastic_round_bf16(weight, generator) if generator is not None
                       else weight.to(param.dtype))
            param.copy_(torch.where(apply, rounded, param))
    return sqnorm


def _stochastic_round_bf16(x: Tensor, generator: torch.Generator) -> Tensor:
    """Round fp32 → bf16 up or down with probability given by the 16 dropped bits (unbiased)."""
    noise = torch.randint(0, 1 << 16, x.shape, generator=generator, device=x.device, dtype=torch.int32)
    truncated = ((x.view(torch.int32) + noise) & ~0xFFFF).view(torch.float32)
    return torch.where(torch.isnan(x), x, truncated).to(torch.bfloat16)

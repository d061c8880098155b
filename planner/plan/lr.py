"""Learning-rate retune from the reference run (B0, lr0, optimizer) to a global batch B.

Gain r (AdaScale-style, bounded by the noise scale): r = (1 + B_noise/B0) / (1 + B_noise/B).
It is B/B0 while B << B_noise and saturates at 1 + B_noise/B0 beyond; without a noise scale
r = B/B0 (the small-batch limit).
- SGD: lr = lr0 * r, the linear scaling rule (Goyal et al. 2017) in its small-B limit, with warmup.
- Adam/AdamW: lr = lr0 * sqrt(r), the square-root rule (Malladi et al. 2022); with kappa = B/B0
  the SDE scaling rule also moves 1-beta1 -> kappa(1-beta1), 1-beta2 -> kappa(1-beta2), eps -> eps/sqrt(kappa).
"""

from __future__ import annotations

import math

from planner.contracts.plan import LrChoice
from planner.contracts.request import ReferenceRun

ADAM_DEFAULT_BETAS = (0.9, 0.999)
ADAM_DEFAULT_EPS = 1e-8
BETA_RANGE = (0.0, 0.9999)  # a beta of 1 or more stops the moment estimate from moving


def gain(reference_batch: int, batch: int, b_noise: float | None) -> float:
    if b_noise is None:
        return batch / reference_batch
    return (1 + b_noise / reference_batch) / (1 + b_noise / batch)


def _scaled_beta(beta: float, kappa: float) -> tuple[float, bool]:
    """1 - beta -> kappa (1 - beta), clamped into BETA_RANGE; returns (beta, clamped)."""
    raw = 1 - kappa * (1 - beta)
    low, high = BETA_RANGE
    clamped = min(high, max(low, raw))
    return clamped, clamped != raw


def _warmup(reference: ReferenceRun, batch: int) -> int | None:
    """Warmup held constant in samples: the reference's warmup steps x B0 / B."""
    if reference.warmup_steps is None:
        return None
    return max(1, math.ceil(reference.warmup_steps * reference.batch_size / batch)) if reference.warmup_steps else 0


def retune(reference: ReferenceRun, batch: int, b_noise: float | None) -> LrChoice:
    r = gain(reference.batch_size, batch, b_noise)
    bound = "" if b_noise is None else f", bounded by B_noise={b_noise:,.0f}"
    notes: list[str] = []
    warmup = _warmup(reference, batch)
    if warmup is not None:
        notes.append("warmup held constant in samples (steps x B0/B)")
    if reference.weight_decay is not None:
        notes.append("weight decay unchanged: decoupled decay scales with lr each step")

    if reference.optimizer == "sgd":
        if r > 4 and warmup is None:
            notes.append("lr grows over 4x: use a gradual warmup of about 5 epochs (Goyal et al. 2017)")
        return LrChoice(
            lr=reference.lr * r,
            rule=f"linear (Goyal et al. 2017; AdaScale gain r={r:.3g}{bound})",
            ratio=r,
            momentum=reference.momentum,
            weight_decay=reference.weight_decay,
            warmup_steps=warmup,
            notes=notes,
        )

    kappa = batch / reference.batch_size
    beta1, beta2 = reference.betas or ADAM_DEFAULT_BETAS
    eps = reference.eps if reference.eps is not None else ADAM_DEFAULT_EPS
    new_beta1, clamped1 = _scaled_beta(beta1, kappa)
    new_beta2, clamped2 = _scaled_beta(beta2, kappa)
    if clamped1 or clamped2:
        notes.append(f"betas clamped to [{BETA_RANGE[0]}, {BETA_RANGE[1]}]: the SDE rule no longer holds exactly")
    ratio = math.sqrt(r)
    return LrChoice(
        lr=reference.lr * ratio,
        rule=f"square-root (Malladi et al. 2022 SDE rule; AdaScale gain r={r:.3g}{bound})",
        ratio=ratio,
        betas=(new_beta1, new_beta2),
        eps=eps / math.sqrt(kappa),
        weight_decay=reference.weight_decay,
        warmup_steps=warmup,
        notes=notes,
    )

"""Optimizer settings retuned from the reference run (B0, lr0, optimizer) to a global batch B.

One kappa for every quantity of a rule: the AdaScale-style gain, bounded by the noise scale,
    kappa = r = (1 + B_noise/B0) / (1 + B_noise/B),
which is B/B0 while B << B_noise and saturates at 1 + B_noise/B0 beyond (B/B0 without a noise
scale). A large-batch step is worth r reference steps, so every rule counts in those steps.
- SGD: lr = lr0 * r (Goyal et al. 2017 is its small-B limit), momentum and L2 decay kept.
- Adam/AdamW: lr = lr0 * sqrt(r). The SDE scaling rule (Malladi et al. 2022) moves
  1-beta -> r(1-beta) and eps -> eps/sqrt(r), and holds only inside its range (sde_range_issue):
  outside it beta1 and eps stay the reference's, beta2 keeps its half-life in samples with a
  floor, and a warning says why the rule was not applied.
- AdamW's decoupled decay: the timescale 1/(lr * lambda) held in samples (Wang & Aitchison 2024).
"""

from __future__ import annotations

import math

from planner.contracts.plan import LrChoice
from planner.contracts.request import ReferenceRun

ADAM_DEFAULT_BETAS = (0.9, 0.999)  # torch.optim.Adam/AdamW defaults
ADAM_DEFAULT_EPS = 1e-8
ADAMW_DEFAULT_WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default; Adam's and SGD's is 0
BETA_MAX = 0.9999  # a beta of 1 stops the moment estimate from moving

# The SDE rule's stated range. kappa bounded: Malladi et al. 2022 validate it over moderate batch
# ratios; and kappa(1-beta1) <= 0.5 (beta1 >= 0.5), so the discrete moment still averages over
# two or more steps, as the continuous limit assumes. The noise must dominate the gradient,
# B <= B_noise (Li, Malladi & Arora 2021: the SDE needs noise-to-signal B_noise/B >= 1).
SDE_KAPPA_MAX = 8.0
SDE_MAX_MOMENT_STEP = 0.5
# Outside the range beta2 keeps its half-life in samples but never drops below this: it stays
# well above beta1^2 (Adam's convergence condition beta1^2 < beta2), and 0.95 is what large-batch
# language-model training runs use (GPT-3, Brown et al. 2020).
BETA2_FLOOR = 0.95
# Decoupled decay shrinks weights by lr*lambda per step; past this the per-step picture of a
# smooth exponential timescale no longer holds.
MAX_DECAY_PER_STEP = 0.1


def gain(reference_batch: int, batch: int, b_noise: float | None) -> float:
    if b_noise is None:
        return batch / reference_batch
    return (1 + b_noise / reference_batch) / (1 + b_noise / batch)


def _kappa_text(kappa: float, b_noise: float | None) -> str:
    bound = "B/B0, no noise scale" if b_noise is None else f"AdaScale gain bounded by B_noise={b_noise:,.0f}"
    return f"kappa={kappa:.3g} ({bound})"


def sde_range_issue(kappa: float, batch: int, beta1: float, b_noise: float | None) -> str | None:
    """Why the SDE rule does not hold at this batch, or None when it does."""
    if kappa > SDE_KAPPA_MAX:
        return f"kappa={kappa:.3g} is above the rule's stated range kappa <= {SDE_KAPPA_MAX:g}"
    if kappa * (1 - beta1) > SDE_MAX_MOMENT_STEP:
        return (f"kappa(1-beta1)={kappa * (1 - beta1):.2f} is above {SDE_MAX_MOMENT_STEP}: "
                f"beta1 would fall to {1 - kappa * (1 - beta1):.2f}")
    if b_noise is not None and batch > b_noise:
        return (f"B={batch:,} is above B_noise={b_noise:,.0f}: gradient noise no longer dominates, "
                "which the SDE approximation needs (Li, Malladi & Arora 2021)")
    return None


def _warmup(reference: ReferenceRun, batch: int) -> tuple[int | None, str | None]:
    """Warmup held constant in samples: the reference's warmup steps x B0 / B."""
    if reference.warmup_steps is None:
        return None, None
    if not reference.warmup_steps:
        return 0, "no warmup, as the reference"
    steps = max(1, math.ceil(reference.warmup_steps * reference.batch_size / batch))
    return steps, f"held in samples: {reference.warmup_steps} steps x B0/B (Goyal et al. 2017)"


def assumed_defaults(reference: ReferenceRun) -> list[str]:
    """The reference settings not given, and the torch defaults the retune assumed for them."""
    if reference.optimizer == "sgd":
        out = []
        if reference.momentum is None:
            out.append("reference momentum not given: kept as whatever the reference used (torch's default is 0)")
        if reference.weight_decay is None:
            out.append("reference weight decay not given: assumed torch.optim.SGD's default 0")
        return out
    name = "AdamW" if reference.optimizer == "adamw" else "Adam"
    out = []
    if reference.betas is None:
        out.append(f"reference betas not given: assumed torch.optim.{name}'s default {ADAM_DEFAULT_BETAS}")
    if reference.eps is None:
        out.append(f"reference eps not given: assumed torch.optim.{name}'s default {ADAM_DEFAULT_EPS:g}")
    if reference.weight_decay is None:
        default = ADAMW_DEFAULT_WEIGHT_DECAY if reference.optimizer == "adamw" else 0.0
        out.append(f"reference weight decay not given: assumed torch.optim.{name}'s default {default:g}")
    return out


def _sgd(reference: ReferenceRun, batch: int, r: float, b_noise: float | None) -> LrChoice:
    warmup, warmup_rule = _warmup(reference, batch)
    notes = assumed_defaults(reference)
    if r > 4 and warmup is None:
        notes.append("lr grows over 4x: use a gradual warmup of about 5 epochs (Goyal et al. 2017)")
    decay = reference.weight_decay if reference.weight_decay is not None else 0.0
    return LrChoice(
        lr=reference.lr * r,
        rule=f"linear (Goyal et al. 2017; AdaScale): lr0 x kappa, {_kappa_text(r, b_noise)}",
        ratio=r,
        momentum=reference.momentum,
        momentum_rule=None if reference.momentum is None else "kept (Goyal et al. 2017)",
        weight_decay=decay,
        weight_decay_rule="L2 decay kept (Goyal et al. 2017: the linear rule leaves lambda unchanged)",
        warmup_steps=warmup,
        warmup_rule=warmup_rule,
        notes=notes,
    )


def _decoupled_decay(reference: ReferenceRun, batch: int, lr: float) -> tuple[float, str, list[str]]:
    """AdamW: lambda such that the timescale B/(lr * lambda) in samples equals the reference's."""
    decay0 = reference.weight_decay if reference.weight_decay is not None else ADAMW_DEFAULT_WEIGHT_DECAY
    if decay0 == 0:
        return 0.0, "no decay, as the reference", []
    tau_samples = reference.batch_size / (reference.lr * decay0)
    decay = decay0 * (batch / reference.batch_size) * (reference.lr / lr)
    rule = (f"decoupled decay timescale 1/(lr*lambda) held at {tau_samples:,.3g} samples: "
            f"lambda0 x (B/B0) x (lr0/lr) (Wang & Aitchison 2024)")
    warnings = []
    if lr * decay > MAX_DECAY_PER_STEP:
        warnings.append(f"B={batch:,}: weight decay shrinks weights by lr*lambda={lr * decay:.2f} per step, "
                        f"above {MAX_DECAY_PER_STEP}: the decay is no longer a smooth timescale; use a smaller batch")
    return decay, rule, warnings


def _adam(reference: ReferenceRun, batch: int, r: float, b_noise: float | None) -> LrChoice:
    beta1, beta2 = reference.betas or ADAM_DEFAULT_BETAS
    eps = reference.eps if reference.eps is not None else ADAM_DEFAULT_EPS
    warmup, warmup_rule = _warmup(reference, batch)
    ratio = math.sqrt(r)
    lr = reference.lr * ratio
    issue = sde_range_issue(r, batch, beta1, b_noise)
    warnings: list[str] = []
    if issue is None:
        betas = (1 - r * (1 - beta1), min(BETA_MAX, 1 - r * (1 - beta2)))
        betas_rule = f"SDE rule 1-beta -> kappa(1-beta), {_kappa_text(r, b_noise)} (Malladi et al. 2022)"
        new_eps = eps / ratio
        eps_rule = "SDE rule eps/sqrt(kappa) (Malladi et al. 2022)"
    else:
        kappa_samples = batch / reference.batch_size
        half_life = math.log(0.5) / math.log(beta2) / kappa_samples  # steps
        held = min(BETA_MAX, 0.5 ** (1 / half_life))
        floor = min(BETA2_FLOOR, beta2)
        betas = (beta1, max(floor, held))
        floored = " (at its floor)" if held < floor else ""
        betas_rule = (f"beta1 kept; beta2 half-life held in samples, {half_life:.3g} steps, "
                      f"floor {floor:g}{floored}")
        new_eps = eps
        eps_rule = "kept (the SDE rule was not applied)"
        warnings.append(f"B={batch:,}: the SDE scaling rule (Malladi et al. 2022) was not applied to betas and eps: "
                        f"{issue}; beta1 stays {beta1:g}, beta2 keeps its half-life in samples")
    if reference.optimizer == "adamw":
        decay, decay_rule, decay_warnings = _decoupled_decay(reference, batch, lr)
        warnings += decay_warnings
    else:
        decay = reference.weight_decay if reference.weight_decay is not None else 0.0
        decay_rule = "L2 decay kept: Adam's coupled decay has no stated scaling rule"
    return LrChoice(
        lr=lr,
        rule=f"square-root (Malladi et al. 2022): lr0 x sqrt(kappa), {_kappa_text(r, b_noise)}",
        ratio=ratio,
        betas=betas,
        betas_rule=betas_rule,
        eps=new_eps,
        eps_rule=eps_rule,
        weight_decay=decay,
        weight_decay_rule=decay_rule,
        warmup_steps=warmup,
        warmup_rule=warmup_rule,
        notes=assumed_defaults(reference),
        warnings=warnings,
    )


def retune(reference: ReferenceRun, batch: int, b_noise: float | None) -> LrChoice:
    r = gain(reference.batch_size, batch, b_noise)
    if reference.optimizer == "sgd":
        return _sgd(reference, batch, r, b_noise)
    return _adam(reference, batch, r, b_noise)


def lr_assumptions(reference: ReferenceRun) -> list[str]:
    """The plan's assumptions about the retune: the defaults taken and the SDE rule's range."""
    out = assumed_defaults(reference)
    if reference.optimizer != "sgd":
        out.append(f"Adam betas and eps: the SDE rule (Malladi et al. 2022) applied only while kappa <= "
                   f"{SDE_KAPPA_MAX:g}, kappa(1-beta1) <= {SDE_MAX_MOMENT_STEP} and B <= B_noise; elsewhere "
                   f"beta1 and eps kept, beta2's half-life held in samples with floor {BETA2_FLOOR}")
    return out

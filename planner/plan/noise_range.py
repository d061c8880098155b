"""The plausible B_noise over the run, as a range, from the probe's early read and the target loss.

B_crit grows as the loss falls (McCandlish et al. 2018; Kaplan et al. 2020; Zhang et al. 2024), so
a read taken above the target loss is a lower bound for the run. With one read at loss L_read and
a target L*, Kaplan et al. 2020 (eq. 5.3, B_crit(L) = B* / L^(1/alpha_B), alpha_B = 0.21) give
    B_crit(L*) = B_read * (L_read / L*)^(1/alpha_B).
The range runs from the read's band low end to that value (times the band's high/central ratio);
its central value is the geometric mean of the read and the extrapolation: the run spends its
steps between the two losses. Without a target loss (or a read above it) the range is the band.
Adam-family runs read the Adam-preconditioned noise scale when it has a band (`matching_read`).
The probe's reads today come at one point of training (several B_small against one B_big); a fit
across reads at several losses would replace the prior exponent when the probe takes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.contracts.probe import NoiseScale

KAPLAN_ALPHA_B = 0.21  # Kaplan et al. 2020, "Scaling Laws for Neural Language Models", eq. 5.3


@dataclass(frozen=True)
class Read:
    """The noise-scale read a plan uses: raw, or Adam-preconditioned for Adam-family runs."""

    b_simple: float
    low: float
    high: float
    train_loss: float | None
    kind: str


def matching_read(noise: NoiseScale, optimizer: str) -> Read:
    """Adam-family runs take the Adam-preconditioned read when it has a band (AdaptDL measures
    Adam's noise scale so: Adam steps along the preconditioned gradient); others the raw one."""
    pre = noise.preconditioned
    if optimizer in ("adam", "adamw") and pre is not None and pre.low is not None and pre.high is not None:
        return Read(pre.b_simple, pre.low, pre.high, noise.train_loss, "Adam-preconditioned, matching the optimizer")
    kind = "raw gradients" + (", as the optimizer is SGD" if optimizer == "sgd" else
                              "" if pre is None else ", the preconditioned read has no band")
    low = noise.low if noise.low is not None else noise.b_simple
    high = noise.high if noise.high is not None else noise.b_simple
    return Read(noise.b_simple, low, high, noise.train_loss, kind)


@dataclass(frozen=True)
class NoiseRange:
    low: float
    central: float
    high: float
    explanation: str
    warnings: tuple[str, ...] = ()


def noise_range(noise: Read, target_loss: float | None) -> NoiseRange:
    """The range for a read with a band, extrapolated to `target_loss` when it lies below the read."""
    low, high = noise.low, noise.high
    read = (f"B_simple {noise.b_simple:,.1f} (90% band {low:,.1f}..{high:,.1f}; {noise.kind})"
            + (f" read at training loss {noise.train_loss:.4g}" if noise.train_loss is not None else ""))
    if target_loss is None or noise.train_loss is None:
        why = ("no --target-loss" if target_loss is None else "the read has no training loss")
        return NoiseRange(low, noise.b_simple, high,
                          f"B_noise range {low:,.1f}..{high:,.1f}: the {read} ({why}, so no growth to the target "
                          "is modelled; B_noise grows as the loss falls, so this understates it)")
    if noise.train_loss <= target_loss:
        return NoiseRange(low, noise.b_simple, high,
                          f"B_noise range {low:,.1f}..{high:,.1f}: the {read}, at or below the target loss "
                          f"{target_loss:g}, so no growth is modelled")
    growth = (noise.train_loss / target_loss) ** (1 / KAPLAN_ALPHA_B)
    at_target = noise.b_simple * growth
    upper = at_target * high / noise.b_simple
    central = math.sqrt(noise.b_simple * at_target)
    return NoiseRange(
        low, central, upper,
        f"B_noise range {low:,.1f}..{upper:,.1f}, central {central:,.1f}: the {read} is a lower bound for a run to "
        f"loss {target_loss:g}; B_crit ~ L^(-1/{KAPLAN_ALPHA_B}) (Kaplan et al. 2020) grows it {growth:.3g}x by "
        f"then ({at_target:,.1f}); central value the geometric mean of the read and that",
        ((f"the noise scale was read at training loss {noise.train_loss:.4g}, above the target {target_loss:g}: "
          f"it is a lower bound, and the plan's B_noise range reaches {upper:,.0f} by a stated prior"),),
    )

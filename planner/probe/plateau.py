"""When throughput says the sweep may stop growing the batch: on a GPU only, and only on evidence.

A CPU never stops on throughput: its timings never feed a GPU prediction, and on a shared
machine one point's step times spread from 27 ms to 1.6 s, so single negative "gains" (-31%,
-50%, -53%) ended three of four CPU sweeps early -- and where the sweep stopped used to set the
noise scale's B_small. On a GPU a doubling whose gain is suspect (negative, more than doubled,
or from widely spread steps) is timed again before it counts, and the sweep stops only after
PLATEAU_DOUBLINGS doublings in a row gain less than the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from planner.contracts.probe import ProbePoint

PLATEAU_DOUBLINGS = 2  # sub-threshold doublings in a row that end the sweep
OUTLIER_GAIN = 1.0  # more than doubled throughput: the step got faster as the batch grew
NOISY_SPREAD = 0.25  # a point whose steps' (q75 - q25) / median exceeds this is timed again


def throughput_decides(device: torch.device) -> bool:
    """Whether this device's timings may stop the sweep (and so are timed for min_timed_s)."""
    return device.type == "cuda"


def gain(point: ProbePoint, previous: ProbePoint) -> float | None:
    """Throughput gain of `point` over `previous` (0.25: 25% more samples/s)."""
    if not point.samples_per_s or not previous.samples_per_s:
        return None
    return point.samples_per_s / previous.samples_per_s - 1.0


def why_suspect(point: ProbePoint, previous: ProbePoint) -> str | None:
    """Why the gain of this doubling should not be trusted yet, or None."""
    g = gain(point, previous)
    if g is not None and g < 0:
        return f"throughput fell {g:+.0%} as the batch doubled"
    if g is not None and g > OUTLIER_GAIN:
        return f"throughput grew {g:+.0%} as the batch doubled"
    for p in (point, previous):
        if p.step_time_spread is not None and p.step_time_spread > NOISY_SPREAD:
            return f"B={p.batch_size}'s steps spread {p.step_time_spread:.0%} of their median"
    return None


@dataclass
class Plateau:
    """Counts sub-threshold doublings in a row; `observe` says when they end the sweep."""

    threshold: float  # plateau_gain; -1 never stops
    below: int = 0

    def observe(self, point: ProbePoint, previous: ProbePoint) -> str | None:
        """One doubling (after any re-timing): the stop's one-line detail, or None to go on."""
        g = gain(point, previous)
        if g is None or self.threshold <= -1:
            return None
        self.below = self.below + 1 if g < self.threshold else 0
        if self.below < PLATEAU_DOUBLINGS:
            return None
        return (f"plateau: B={point.batch_size} gained {g:+.1%} over B={previous.batch_size}, "
                f"{self.below} doublings in a row under {self.threshold:.0%}")

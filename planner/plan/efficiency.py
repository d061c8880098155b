"""Statistical efficiency: how many samples and steps a global batch needs to match the reference.

McCandlish et al. 2018, "An Empirical Model of Large-Batch Training": with noise scale B_noise,
    steps   S(B) = S_min (1 + B_noise / B)
    samples E(B) = E_min (1 + B / B_noise),     S_min = E_min / B_noise.
The reference run (batch B0 trained on N0 samples) fixes E_min = N0 / (1 + B0 / B_noise).
Without a measured noise scale the plan keeps samples fixed at N0 and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.contracts.plan import StatisticalEfficiency


@dataclass(frozen=True)
class SampleModel:
    reference_batch: int
    reference_samples: float
    b_noise: float | None

    @property
    def e_min(self) -> float | None:
        if self.b_noise is None:
            return None
        return self.reference_samples / (1 + self.reference_batch / self.b_noise)

    @property
    def s_min(self) -> float | None:
        e_min = self.e_min
        return None if e_min is None or self.b_noise is None else e_min / self.b_noise

    def samples(self, batch: float) -> float:
        """E(B): samples to reach the reference run's loss at global batch B."""
        if self.b_noise is None:
            return self.reference_samples
        assert self.e_min is not None
        return self.e_min * (1 + batch / self.b_noise)

    def steps(self, batch: int) -> int:
        """S(B) rounded up to whole optimizer steps."""
        return max(1, math.ceil(self.samples(batch) / batch))

    def step_gain_vs_double(self, batch: float) -> float:
        """Fraction of steps saved by doubling B: 1 - S(2B)/S(B); 0.5 in the small-batch limit."""
        if self.b_noise is None:
            return 0.5
        return 1 - (1 + self.b_noise / (2 * batch)) / (1 + self.b_noise / batch)

    def describe(self, b_noise_range: tuple[float, float] | None = None) -> StatisticalEfficiency:
        if self.b_noise is None:
            return StatisticalEfficiency(
                mode="samples-fixed",
                reference_samples=self.reference_samples,
                explanation=(
                    "samples fixed: no gradient noise scale was measured, so every batch size trains "
                    f"on the reference run's {self.reference_samples:,.0f} samples; a batch far above "
                    "the critical batch would in truth need more samples"
                ),
            )
        return StatisticalEfficiency(
            mode="noise-scale",
            reference_samples=self.reference_samples,
            b_noise=self.b_noise,
            e_min=self.e_min,
            s_min=self.s_min,
            b_noise_range=b_noise_range,
            explanation=(
                f"noise scale B_noise={self.b_noise:,.0f} (critical batch): S(B)=S_min(1+B_noise/B), "
                f"E(B)=E_min(1+B/B_noise) with E_min={self.e_min:,.0f} samples fixed by the reference "
                f"run (batch {self.reference_batch}, {self.reference_samples:,.0f} samples)"
            ),
        )

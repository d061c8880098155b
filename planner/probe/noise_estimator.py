"""B_simple = tr(Σ)/|G|² from squared gradient norms at two batch sizes, and its band.

McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", Appendix A. A gradient
averaged over B samples has E|g_B|² = |G|² + tr(Σ)/B, so two batch sizes B_small < B_big give
unbiased estimates of both terms (`two_batch_estimates`). Per step they are far too noisy to
divide, so each is averaged over steps on its own -- an exponential moving average, since the
model trains while we measure -- and only the averages are divided.

The band has two parts. Sampling noise: the steps are resampled with replacement (each keeping
its EMA weight), the same weighted ratio is taken per resample, and the 5th and 95th
percentiles are the bootstrap's 90% band. The choice of B_small: where a step also holds |g|²
at other smaller sizes (2·B_small, 4·B_small, ... below B_big: prefixes of the micro-batches),
B_simple is read from each of them against the same B_big, and the band is widened to hold
every such read. Under fewer than MIN_BAND_STEPS measured steps the bootstrap undercovers (a
nominal 90% held the truth 61% of the time at 3 steps), so no band is given: "insufficient".
bench/noise_band_coverage.py measures the coverage on a task with a known answer.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, field

import numpy as np

from planner.contracts.probe import NoiseRead, NoiseScale, PreconditionedNoise

MIN_STEPS = 3  # fewer give not even a point read
MIN_BAND_STEPS = 20  # fewer give a point read only: band "insufficient"
BAND = (0.05, 0.95)  # bootstrap percentiles: a 90% band
RESAMPLES = 1000
BOOTSTRAP_SEED = 0  # the band of a given run is reproducible


def format_batch(samples: float) -> str:
    """1,234 / 12.3 / 0.829: whole samples from 100 up, three significant digits below."""
    return f"{samples:,.0f}" if samples >= 100 else f"{samples:.3g}"


def two_batch_estimates(g_small_sq: float, g_big_sq: float, b_small: int, b_big: int) -> tuple[float, float]:
    """(|G|², tr(Σ)) estimated from |g|² at B_small and at B_big (samples per gradient).

    Unbiased for E|g_B|² = |G|² + tr(Σ)/B; either may come out negative on one step.
    """
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < B_small < B_big, got B_small={b_small}, B_big={b_big}")
    g_sq = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small)
    trace = (g_small_sq - g_big_sq) / (1 / b_small - 1 / b_big)
    return g_sq, trace


@dataclass
class NoiseOutcome:
    """A NoiseScale when the estimate is resolved, else None; warnings say why."""

    noise_scale: NoiseScale | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class NoiseScaleEstimator:
    """Collects one (|g_small|², |g_big|²) pair per step; `outcome()` gives B_simple and its band.

    ema: weight kept by the running averages per step (0.95: the last ~20 steps count most).
    others: per other smaller size b (B_small < b < B_big), |g_b|² of each step, when measured.
    """

    b_small: int
    b_big: int
    ema: float = 0.95
    method: str = "micro-batches"
    g_small_sq: list[float] = field(default_factory=list)
    g_big_sq: list[float] = field(default_factory=list)
    others: dict[int, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        two_batch_estimates(1.0, 1.0, self.b_small, self.b_big)  # validates the pair of sizes
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")

    @property
    def steps(self) -> int:
        return len(self.g_big_sq)

    @property
    def g_sq(self) -> list[float]:
        """Per-step |G|² estimates (B_small against B_big)."""
        return list(self._pair(self.b_small)[0])

    @property
    def trace(self) -> list[float]:
        """Per-step tr(Σ) estimates (B_small against B_big)."""
        return list(self._pair(self.b_small)[1])

    def add(self, g_small_sq: float, g_big_sq: float, others: dict[int, float] | None = None) -> None:
        """One step: |g_small|² (the mean over its small batches), |g_big|², and |g_b|² at other sizes."""
        if self.steps and set(others or {}) != set(self.others):
            raise ValueError(f"every step needs the same other sizes, {sorted(self.others)}")
        for b, value in (others or {}).items():
            two_batch_estimates(1.0, 1.0, b, self.b_big)
            self.others.setdefault(b, []).append(value)
        self.g_small_sq.append(g_small_sq)
        self.g_big_sq.append(g_big_sq)

    def averages(self, b_small: int | None = None) -> tuple[float, float]:
        """(EMA of |G|², EMA of tr(Σ)) read at `b_small` (default B_small), bias-corrected -- which
        cancels in their ratio."""
        weights = self._weights()
        g_sq, trace = self._pair(b_small or self.b_small)
        return float(weights @ g_sq) / float(weights.sum()), float(weights @ trace) / float(weights.sum())

    def weighted_mean(self, per_step: list[float]) -> float:
        """A per-step figure (one per step added) averaged with the estimates' EMA weights."""
        weights = self._weights()
        return float(weights @ np.array(per_step, dtype=float)) / float(weights.sum())

    def b_simple(self, b_small: int | None = None) -> float | None:
        """The current estimate (read at `b_small`, default B_small), or None while |G|² or tr(Σ) averages to ≤ 0."""
        if not self.steps:
            return None
        g_sq, trace = self.averages(b_small)
        return trace / g_sq if g_sq > 0 and trace > 0 else None

    def reads(self) -> list[NoiseRead]:
        """B_simple from B_small and from each other smaller size, against the same B_big."""
        return [NoiseRead(b_small=b, b_big=self.b_big, b_simple=self.b_simple(b))
                for b in [self.b_small, *sorted(self.others)]]

    def bootstrap_band(self) -> tuple[float, float]:
        """The 90% bootstrap band (low, high); inf when |G|² is not resolved from zero, 0 when tr(Σ) is not."""
        weights = self._weights()
        g_per_step, trace_per_step = self._pair(self.b_small)
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        counts = rng.multinomial(self.steps, np.full(self.steps, 1 / self.steps), size=RESAMPLES)
        g_sq = counts @ (weights * g_per_step)
        trace = counts @ (weights * trace_per_step)
        with np.errstate(divide="ignore", invalid="ignore"):
            # |G|² <= 0: the noise swamps the signal, B_noise is beyond reach (inf); else
            # tr(Σ) <= 0: no noise seen at all, B_noise is below anything measured (0).
            ratios = np.where(g_sq <= 0, np.inf, np.where(trace <= 0, 0.0, trace / g_sq))
        low, high = np.quantile(ratios, BAND, method="inverted_cdf")
        return float(low), float(high)

    def band(self) -> tuple[float, float]:
        """The bootstrap band widened to hold B_simple read at every other smaller size."""
        low, high = self.bootstrap_band()
        for read in self.reads()[1:]:
            value = read.b_simple if read.b_simple is not None else np.inf  # |G|² or tr(Σ) lost at that size
            low, high = min(low, value), max(high, value)
        return low, high

    def outcome(self) -> NoiseOutcome:
        if self.steps < MIN_STEPS:
            return NoiseOutcome(None, [f"noise scale not measured: {self.steps} step(s) ran, {MIN_STEPS} needed"])
        g_sq, trace = self.averages()
        if g_sq <= 0:
            low = self.bootstrap_band()[0]
            bound = f"; B_noise is likely above {format_batch(low)}" if np.isfinite(low) and low > 0 else ""
            return self._unresolved(f"the |G|² estimate is {g_sq:.3g} <= 0, gradient noise dominates{bound}")
        if trace <= 0:
            return self._unresolved(f"the tr(Σ) estimate is {trace:.3g} <= 0, no gradient noise seen; "
                                    f"B_noise is likely below {self.b_small}")
        b_simple = trace / g_sq
        common: dict[str, Any] = {"b_simple": b_simple, "b_small": self.b_small, "b_big": self.b_big, "steps": self.steps,
                  "provenance": "measured", "grad_sqnorm": g_sq, "trace_sigma": trace, "ema": self.ema,
                  "reads": self.reads()}
        if self.steps < MIN_BAND_STEPS:
            warning = (f"noise scale: B_simple ≈ {format_batch(b_simple)} from {self.steps} measured steps is a point "
                       f"read with no band (insufficient: {MIN_BAND_STEPS} steps give one); "
                       "more --noise-steps, or a longer --time-limit")
            return NoiseOutcome(NoiseScale(**common, band="insufficient",
                                           method=f"two-batch ({self.method}); band: insufficient steps"), [warning])
        low, high = self.band()
        if not np.isfinite(high):
            return self._unresolved(f"B_simple ≈ {format_batch(b_simple)} but its 90% band is open above "
                                    f"(|G|² not resolved from zero): B_noise > {format_batch(low)}")
        if low <= 0:
            return self._unresolved(f"B_simple ≈ {format_batch(b_simple)} but its 90% band reaches 0 "
                                    f"(tr(Σ) not resolved from zero): B_noise < {format_batch(high)}")
        spans = f" and the reads at B_small = {', '.join(str(b) for b in sorted(self.others))}" if self.others else ""
        return NoiseOutcome(NoiseScale(
            **common, low=min(low, b_simple), high=max(high, b_simple),
            method=f"two-batch ({self.method}); band: 90% bootstrap over steps{spans}",
        ))

    def _unresolved(self, why: str) -> NoiseOutcome:
        warning = (f"noise scale not resolved (B_small={self.b_small}, B_big={self.b_big}, {self.steps} steps): "
                   f"{why}; more steps (--noise-steps) narrow the band")
        return NoiseOutcome(None, [warning])

    def _pair(self, b_small: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-step (|G|², tr(Σ)) estimates from |g|² at `b_small` against B_big."""
        small = np.array(self.g_small_sq if b_small == self.b_small else self.others[b_small], dtype=float)
        big = np.array(self.g_big_sq, dtype=float)
        g_sq = (self.b_big * big - b_small * small) / (self.b_big - b_small)
        trace = (small - big) / (1 / b_small - 1 / self.b_big)
        return g_sq, trace

    def _weights(self) -> np.ndarray:
        """EMA weights, oldest step first: ema^(steps-1), ..., ema, 1."""
        return self.ema ** np.arange(self.steps - 1, -1, -1, dtype=float)


def preconditioned(estimator: NoiseScaleEstimator, preconditioner: str) -> tuple[PreconditionedNoise | None, list[str]]:
    """The preconditioned read of `estimator` (fed Adam-preconditioned norms), or None with why."""
    outcome = estimator.outcome()
    ns = outcome.noise_scale
    if ns is None:
        return None, [f"preconditioned {w}" if w.startswith("noise scale") else w for w in outcome.warnings]
    return PreconditionedNoise(b_simple=ns.b_simple, low=ns.low, high=ns.high, steps=ns.steps,
                               grad_sqnorm=ns.grad_sqnorm, trace_sigma=ns.trace_sigma,
                               preconditioner=preconditioner), []

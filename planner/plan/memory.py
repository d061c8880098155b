"""The linear memory model M(B) = M_static + B * m_sample, and the largest batch it allows.

M_static is weights + gradients + optimizer state + workspace; m_sample the activations one
sample keeps alive. Fitted by least squares over the probe's points (measured peaks when there
are two or more, else the fake-trace predictions). On a GPU with C bytes the largest batch is
floor((C * (1 - margin) - context - M_static) / m_sample). No torch here: the planner's CI path
uses this module too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from planner.plan import priors
from planner.contracts.probe import MemoryCheck, MemoryFit, ProbePoint, ProbeReport, Provenance


@dataclass(frozen=True)
class MemoryLimit:
    largest_batch: int
    usable_bytes: float
    static_bytes: float
    per_sample_bytes: float

    def bytes_at(self, batch: int) -> float:
        return self.static_bytes + batch * self.per_sample_bytes


def fit_memory(points: Iterable[ProbePoint]) -> MemoryFit | None:
    """Least-squares M(B) over the measured peaks of ok points, else over every predicted peak.

    Only the larger half of the batch sizes is fitted (at least two): at small batches the
    peak is the optimizer step's, which does not grow with B, so the line that extrapolates
    to bigger batches is the one through the sizes where activations dominate.
    None when fewer than two distinct batch sizes carry a memory figure.
    """
    points = list(points)
    measured = [(p.batch_size, p.peak_memory_bytes) for p in points
                if p.status == "ok" and p.memory_provenance == "measured" and p.peak_memory_bytes]
    predicted = [(p.batch_size, p.predicted_memory_bytes) for p in points if p.predicted_memory_bytes]
    sources: tuple[tuple[list[tuple[int, int]], Provenance], ...] = ((measured, "fitted"), (predicted, "predicted"))
    for pairs, provenance in sources:
        sizes = sorted({b for b, _ in pairs})
        if len(sizes) >= 2:
            smallest_fitted = sizes[-max(2, (len(sizes) + 1) // 2)]
            return fit_line([(b, m) for b, m in pairs if b >= smallest_fitted], provenance)
    return None


def fit_line(pairs: list[tuple[int, int]], provenance: Provenance) -> MemoryFit:
    """Least-squares M(B) through (batch, bytes) pairs."""
    b = np.array([p[0] for p in pairs], dtype=np.float64)
    m = np.array([p[1] for p in pairs], dtype=np.float64)
    per_sample, static = np.polyfit(b, m, 1)
    residual = np.abs(static + per_sample * b - m) / m
    return MemoryFit(
        static_bytes=float(static),
        per_sample_bytes=float(per_sample),
        points_used=len(pairs),
        max_relative_residual=float(residual.max()),
        provenance=provenance,
    )


def memory_fit_of(report: ProbeReport) -> MemoryFit | None:
    """The report's fit, or one made from its points when the report has none."""
    return report.memory_fit or fit_memory(report.points)


def largest_batch(fit: MemoryFit, capacity_bytes: float, margin: float = priors.MEMORY_MARGIN,
                  context_bytes: float = priors.CUDA_CONTEXT_BYTES) -> MemoryLimit:
    usable = capacity_bytes * (1 - margin) - context_bytes
    return MemoryLimit(
        largest_batch=fit.largest_batch(usable),
        usable_bytes=usable,
        static_bytes=fit.static_bytes,
        per_sample_bytes=fit.per_sample_bytes,
    )


def largest_batch_by_memory(fit: MemoryFit, capacities_bytes: Iterable[int], margin: float = priors.MEMORY_MARGIN,
                            context_bytes: float = priors.CUDA_CONTEXT_BYTES) -> dict[int, int]:
    """{capacity: largest batch}; 0 means not even one sample fits."""
    return {c: largest_batch(fit, c, margin, context_bytes).largest_batch for c in capacities_bytes}


def recommended_max_batch(points: Iterable[ProbePoint], capacity_bytes: int | None, margin: float) -> int | None:
    """Largest ok batch whose peak memory leaves `margin` of the capacity free."""
    if capacity_bytes is None:
        return None
    usable = (1.0 - margin) * capacity_bytes
    fits = [p.batch_size for p in points
            if p.status == "ok" and p.peak_memory_bytes is not None and p.peak_memory_bytes <= usable]
    return max(fits, default=None)


def memory_check(points: list[ProbePoint], fit: MemoryFit | None, capacity_bytes: int | None) -> MemoryCheck | None:
    """The fit's boundary at this device's capacity against the sweep's, and the trace's accuracy."""
    if fit is None or capacity_bytes is None:
        return None
    ok = [p for p in points if p.status == "ok"]
    ooms = [p for p in points if p.status == "oom"]
    last_ok = max((p.batch_size for p in ok), default=None)
    first_oom = min(ooms, key=lambda p: p.batch_size, default=None)
    predicted = fit.largest_batch(capacity_bytes)
    errors = [abs(p.predicted_memory_bytes - p.peak_memory_bytes) / p.peak_memory_bytes for p in ok
              if p.predicted_memory_bytes and p.peak_memory_bytes and p.memory_provenance == "measured"]
    return MemoryCheck(
        capacity_bytes=capacity_bytes,
        predicted_largest_batch=predicted,
        last_ok_batch=last_ok,
        first_oom_batch=first_oom.batch_size if first_oom else None,
        relative_error=(predicted - last_ok) / last_ok if first_oom is not None and last_ok is not None else None,
        # A CUDA OOM carries no peak figure but is itself a measurement.
        boundary_provenance=None if first_oom is None else (first_oom.memory_provenance or "measured"),
        trace_max_relative_error=max(errors, default=None),
    )

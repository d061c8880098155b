"""The largest per-GPU batch that fits, from the probe's linear memory fit.

M(B) = M_static + B * m_sample. On a GPU with C bytes the largest batch is
floor((C * (1 - margin) - context - M_static) / m_sample).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner import priors
from planner.contracts.probe import MemoryFit, ProbeReport


@dataclass(frozen=True)
class MemoryLimit:
    largest_batch: int
    usable_bytes: float
    static_bytes: float
    per_sample_bytes: float

    def bytes_at(self, batch: int) -> float:
        return self.static_bytes + batch * self.per_sample_bytes


def memory_fit_of(report: ProbeReport) -> MemoryFit | None:
    """The report's fit, or one made from its measured points when the report has none."""
    if report.memory_fit is not None:
        return report.memory_fit
    xy = [(p.batch_size, p.peak_memory_bytes) for p in report.ok_points() if p.peak_memory_bytes]
    if len(xy) < 2:
        return None
    n = len(xy)
    mx = sum(x for x, _ in xy) / n
    my = sum(y for _, y in xy) / n
    sxx = sum((x - mx) ** 2 for x, _ in xy)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in xy) / sxx
    static = my - slope * mx
    residual = max(abs(static + slope * x - y) / y for x, y in xy)
    return MemoryFit(static_bytes=static, per_sample_bytes=slope, points_used=n, max_relative_residual=residual)


def largest_batch(fit: MemoryFit, capacity_bytes: float, margin: float = priors.MEMORY_MARGIN,
                  context_bytes: float = priors.CUDA_CONTEXT_BYTES) -> MemoryLimit:
    usable = capacity_bytes * (1 - margin) - context_bytes
    return MemoryLimit(
        largest_batch=fit.largest_batch(usable),
        usable_bytes=usable,
        static_bytes=fit.static_bytes,
        per_sample_bytes=fit.per_sample_bytes,
    )

"""What a cancelled probe changed in what the plan rests on, said in one line.

A cancel keeps the points measured so far, so the plan can move a lot (no noise scale read:
every batch trains on the reference samples); the user is told why rather than left to guess.
"""

from __future__ import annotations

from planner.contracts.plan import Plan
from planner.contracts.probe import ProbeReport


def _largest(report: ProbeReport) -> int | None:
    return max((p.batch_size for p in report.ok_points()), default=None)


def cancel_note(previous: ProbeReport | None, report: ProbeReport) -> str:
    """Empty when the cancelled run rests on as much as a full one would have."""
    parts: list[str] = []
    asked_noise = report.settings.noise_steps > 0
    if report.noise_scale is None and (asked_noise or (previous is not None and previous.noise_scale is not None)):
        was = (f" (the last report's B_noise {previous.noise_scale.b_simple:.3g} is not used)"
               if previous is not None and previous.noise_scale is not None else "")
        parts.append("cancelled before the noise scale was read: every batch size now trains on the reference "
                     f"run's samples{was}")
    largest, before = _largest(report), _largest(previous) if previous is not None else None
    if largest is not None and before is not None and largest < before:
        parts.append(f"the largest batch measured is {largest} (was {before})")
    elif largest is not None and report.stop_reason == "cancelled":
        parts.append(f"the sweep stopped at batch {largest}, so larger batches are extrapolated")
    return "; ".join(parts)


def plan_shift(before: Plan | None, after: Plan | None) -> str:
    """'recommended 4.65 h, $12.30 -> 0.92 h, $3.10', or empty when either has no recommendation."""
    if before is None or after is None or before.recommendation is None or after.recommendation is None:
        return ""
    a, b = before.candidate(before.recommendation.candidate_id), after.candidate(after.recommendation.candidate_id)
    return f"recommended {a.hours:.3g} h, ${a.cost_usd:,.2f} → {b.hours:.3g} h, ${b.cost_usd:,.2f}"

"""The (hours, dollars) Pareto frontier and the recommendation under each policy.

Works on the evaluation's columns (numpy arrays, one entry per candidate), so choosing among
200,000 candidates costs a few sorts; indices returned are candidate ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from planner.contracts.plan import Recommendation


@dataclass(frozen=True)
class Columns:
    hours: np.ndarray
    cost: np.ndarray
    meets_deadline: np.ndarray
    meets_budget: np.ndarray
    meets_data: np.ndarray | None = None  # None: no data cap

    @property
    def has_data(self) -> np.ndarray:
        return np.ones(len(self.hours), dtype=bool) if self.meets_data is None else self.meets_data

    @property
    def feasible(self) -> np.ndarray:
        return self.meets_deadline & self.meets_budget & self.has_data


def pareto_front(hours: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices no other candidate beats on both hours and dollars, fastest first."""
    if len(hours) == 0:
        return np.zeros(0, dtype=int)
    order = np.lexsort((cost, hours))  # by hours, then cost
    sorted_cost = cost[order]
    best_before = np.minimum.accumulate(sorted_cost)
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = sorted_cost[1:] < best_before[:-1]
    return order[keep]


def knee(front: np.ndarray, hours: np.ndarray, cost: np.ndarray) -> int | None:
    """The frontier point farthest below the chord between its fastest and cheapest ends, with
    hours and dollars each scaled to [0, 1]: where trading time for money stops paying."""
    if len(front) < 3:
        return None
    h, c = hours[front], cost[front]
    if h[-1] == h[0] or c[0] == c[-1]:
        return None
    x = (h - h[0]) / (h[-1] - h[0])
    y = (c - c[-1]) / (c[0] - c[-1])
    below_chord = 1 - x - y  # proportional to the distance below the line x + y = 1
    return int(front[1:-1][np.argmax(below_chord[1:-1])])


def cheapest(mask: np.ndarray, hours: np.ndarray, cost: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return None if len(idx) == 0 else int(idx[np.lexsort((hours[idx], cost[idx]))[0]])


def fastest(mask: np.ndarray, hours: np.ndarray, cost: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return None if len(idx) == 0 else int(idx[np.lexsort((cost[idx], hours[idx]))[0]])


def recommend(cols: Columns, front: np.ndarray, budget: float | None,
              deadline: float | None) -> tuple[Recommendation | None, list[Recommendation]]:
    """Primary: the cheapest within deadline and budget. Alternatives: the fastest within the
    budget, and the knee of the frontier when it meets both limits."""
    every = cols.has_data  # a candidate needing more data than exists is out under every policy
    h, c = cols.hours, cols.cost
    first = cheapest(cols.feasible, h, c)
    if first is None:
        return None, []
    overall = cheapest(every, h, c)
    reason = f"lowest cost (${c[first]:,.2f}, {h[first]:.2f} h)"
    if deadline is not None:
        reason += f" that meets the {deadline:g} h deadline"
        if overall is not None and overall != first and not cols.meets_deadline[overall]:
            reason += f"; the cheapest overall (${c[overall]:,.2f}) takes {h[overall]:.2f} h"
    chosen = [Recommendation(policy="cheapest-within-deadline", candidate_id=first, reason=reason,
                             bound_by="deadline" if overall != first and deadline is not None else "none")]

    quick = fastest(cols.meets_budget & every, h, c)
    if quick is not None:
        unbounded = fastest(every, h, c)
        chosen.append(Recommendation(
            policy="fastest-within-budget",
            candidate_id=quick,
            reason=f"finishes soonest ({h[quick]:.2f} h) for ${c[quick]:,.2f}"
                   + (f", within the ${budget:,.2f} budget" if budget is not None else ""),
            bound_by="budget" if budget is not None and unbounded != quick else "none",
        ))
    point = knee(front, h, c)
    if point is not None and cols.feasible[point]:
        chosen.append(Recommendation(
            policy="knee",
            candidate_id=point,
            reason=f"the frontier's knee: {h[point]:.2f} h for ${c[point]:,.2f}; "
                   "beyond it each hour saved costs disproportionately more",
            bound_by="frontier",
        ))
    return chosen[0], chosen[1:]


def explain_infeasible(cols: Columns, budget: float | None, deadline: float | None,
                       label: Callable[[int], str]) -> list[str]:
    """Which limit failed and by how much, when no candidate meets both."""
    h, c = cols.hours, cols.cost
    if len(h) and not cols.has_data.any():
        return [("data: every candidate needs more samples than exist (--max-samples / --max-epochs); "
                 "raise the cap, or plan a smaller workload")]
    every = cols.has_data
    quick, cheap = fastest(every, h, c), cheapest(every, h, c)
    if quick is None or cheap is None:
        return ["no candidate: every offer was excluded (see 'excluded')"]
    reasons: list[str] = []
    if deadline is not None and h[quick] > deadline:
        reasons.append(f"deadline: the fastest candidate ({label(quick)}) takes {h[quick]:.2f} h, "
                       f"{h[quick] - deadline:.2f} h over the {deadline:g} h deadline")
    if budget is not None and c[cheap] > budget:
        reasons.append(f"budget: the cheapest candidate ({label(cheap)}) costs ${c[cheap]:,.2f}, "
                       f"${c[cheap] - budget:,.2f} over the ${budget:,.2f} budget")
    if not reasons and budget is not None and deadline is not None:
        in_time = cheapest(cols.meets_deadline & every, h, c)
        assert in_time is not None
        reasons.append(f"budget and deadline together: meeting the {deadline:g} h deadline costs at least "
                       f"${c[in_time]:,.2f}, ${c[in_time] - budget:,.2f} over the ${budget:,.2f} budget")
    return reasons

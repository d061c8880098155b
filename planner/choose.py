"""The (hours, dollars) Pareto frontier and the recommendation under each policy."""

from __future__ import annotations

from planner.contracts.plan import Candidate, Recommendation


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """Candidates no other beats on both hours and dollars, fastest first."""
    front: list[Candidate] = []
    best_cost = float("inf")
    for c in sorted(candidates, key=lambda c: (c.hours, c.cost_usd)):
        if c.cost_usd < best_cost:
            front.append(c)
            best_cost = c.cost_usd
    return front


def knee(front: list[Candidate]) -> Candidate | None:
    """The frontier point farthest from the chord between its fastest and cheapest ends,
    in hours and dollars each scaled to [0, 1]: where trading time for money stops paying."""
    if len(front) < 3:
        return None
    h0, h1 = front[0].hours, front[-1].hours
    c0, c1 = front[0].cost_usd, front[-1].cost_usd
    if h1 == h0 or c0 == c1:
        return None

    def distance(c: Candidate) -> float:
        x = (c.hours - h0) / (h1 - h0)
        y = (c.cost_usd - c1) / (c0 - c1)
        return (1 - x - y) / 2**0.5  # distance below the chord x + y = 1

    return max(front[1:-1], key=distance)


def _cheapest(pool: list[Candidate]) -> Candidate | None:
    return min(pool, key=lambda c: (c.cost_usd, c.hours), default=None)


def _fastest(pool: list[Candidate]) -> Candidate | None:
    return min(pool, key=lambda c: (c.hours, c.cost_usd), default=None)


def recommend(candidates: list[Candidate], front: list[Candidate],
              budget: float | None, deadline: float | None) -> tuple[Recommendation | None, list[Recommendation]]:
    """Primary: the cheapest within deadline and budget. Alternatives: the fastest within the
    budget, and the knee of the frontier when it meets both limits."""
    feasible = [c for c in candidates if c.meets_deadline and c.meets_budget]
    if not feasible:
        return None, []
    chosen: list[Recommendation] = []
    cheapest = _cheapest(feasible)
    assert cheapest is not None
    chosen.append(Recommendation(
        policy="cheapest-within-deadline",
        candidate_id=cheapest.id,
        reason=_cheapest_reason(cheapest, candidates, deadline),
        bound_by="deadline" if deadline is not None and _cheapest(candidates) not in feasible else "none",
    ))
    fastest = _fastest([c for c in candidates if c.meets_budget])
    if fastest is not None:
        bound = "budget" if budget is not None and _fastest(candidates) is not fastest else "none"
        chosen.append(Recommendation(
            policy="fastest-within-budget",
            candidate_id=fastest.id,
            reason=f"finishes soonest ({fastest.hours:.2f} h) for ${fastest.cost_usd:,.2f}"
                   + (f", within the ${budget:,.2f} budget" if budget is not None else ""),
            bound_by=bound,
        ))
    point = knee(front)
    if point is not None and point.meets_budget and point.meets_deadline:
        chosen.append(Recommendation(
            policy="knee",
            candidate_id=point.id,
            reason=f"the frontier's knee: {point.hours:.2f} h for ${point.cost_usd:,.2f}; "
                   "beyond it each hour saved costs disproportionately more",
            bound_by="frontier",
        ))
    return chosen[0], chosen[1:]


def _cheapest_reason(c: Candidate, candidates: list[Candidate], deadline: float | None) -> str:
    reason = f"lowest cost (${c.cost_usd:,.2f}, {c.hours:.2f} h)"
    overall = _cheapest(candidates)
    if deadline is not None:
        reason += f" that meets the {deadline:g} h deadline"
        if overall is not None and overall is not c and not overall.meets_deadline:
            reason += f"; the cheapest overall (${overall.cost_usd:,.2f}) takes {overall.hours:.2f} h"
    return reason


def explain_infeasible(candidates: list[Candidate], budget: float | None, deadline: float | None) -> list[str]:
    """Which limit failed and by how much, when no candidate meets both."""
    if not candidates:
        return ["no candidate: every offer was excluded (see 'excluded')"]
    reasons: list[str] = []
    fastest = _fastest(candidates)
    cheapest = _cheapest(candidates)
    assert fastest is not None and cheapest is not None
    if deadline is not None and fastest.hours > deadline:
        reasons.append(
            f"deadline: the fastest candidate ({fastest.label()}) takes {fastest.hours:.2f} h, "
            f"{fastest.hours - deadline:.2f} h over the {deadline:g} h deadline"
        )
    if budget is not None and cheapest.cost_usd > budget:
        reasons.append(
            f"budget: the cheapest candidate ({cheapest.label()}) costs ${cheapest.cost_usd:,.2f}, "
            f"${cheapest.cost_usd - budget:,.2f} over the ${budget:,.2f} budget"
        )
    if not reasons and budget is not None and deadline is not None:
        in_time = _cheapest([c for c in candidates if c.meets_deadline])
        assert in_time is not None
        reasons.append(
            f"budget and deadline together: meeting the {deadline:g} h deadline costs at least "
            f"${in_time.cost_usd:,.2f}, ${in_time.cost_usd - budget:,.2f} over the ${budget:,.2f} budget"
        )
    return reasons

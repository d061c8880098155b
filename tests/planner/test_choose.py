import numpy as np

from planner.plan.choose import Columns, explain_infeasible, knee, pareto_front, recommend


def cols(points: list[tuple[float, float]], budget: float | None = None, deadline: float | None = None) -> Columns:
    hours = np.array([h for h, _ in points], dtype=float)
    cost = np.array([c for _, c in points], dtype=float)
    return Columns(hours, cost,
                   np.ones(len(hours), bool) if deadline is None else hours <= deadline,
                   np.ones(len(cost), bool) if budget is None else cost <= budget)


def test_pareto_front_drops_dominated_points_fastest_first():
    c = cols([(1, 100), (2, 50), (3, 60), (4, 20), (1.5, 120)])
    assert pareto_front(c.hours, c.cost).tolist() == [0, 1, 3]


def test_pareto_front_of_nothing_is_empty():
    assert pareto_front(np.zeros(0), np.zeros(0)).tolist() == []


def test_knee_is_the_point_farthest_below_the_chord():
    c = cols([(1, 100), (2, 30), (3, 25), (10, 20)])
    front = pareto_front(c.hours, c.cost)
    assert knee(front, c.hours, c.cost) == 1
    assert knee(front[:2], c.hours, c.cost) is None


def test_cheapest_within_deadline_is_primary_and_fastest_within_budget_the_alternative():
    c = cols([(1, 100), (2, 50), (8, 20)], budget=80, deadline=5)
    rec, alts = recommend(c, pareto_front(c.hours, c.cost), budget=80, deadline=5)
    assert rec is not None
    assert (rec.policy, rec.candidate_id, rec.bound_by) == ("cheapest-within-deadline", 1, "deadline")
    assert "takes 8.00 h" in rec.reason  # the cheaper one missed the deadline, and the reason says so
    quick = next(a for a in alts if a.policy == "fastest-within-budget")
    assert (quick.candidate_id, quick.bound_by) == (1, "budget")  # candidate 0 is over budget


def test_knee_alternative_when_it_meets_both_limits():
    c = cols([(1, 100), (2, 30), (3, 25), (10, 20)])
    rec, alts = recommend(c, pareto_front(c.hours, c.cost), budget=None, deadline=None)
    assert rec is not None and rec.candidate_id == 3 and rec.bound_by == "none"
    assert [(a.policy, a.candidate_id) for a in alts] == [("fastest-within-budget", 0), ("knee", 1)]


def test_infeasible_says_which_limit_failed_and_by_how_much():
    c = cols([(10, 100), (20, 60)], budget=50, deadline=5)
    rec, _ = recommend(c, pareto_front(c.hours, c.cost), budget=50, deadline=5)
    assert rec is None
    reasons = explain_infeasible(c, budget=50, deadline=5, label=lambda i: f"c{i}")
    assert reasons[0] == "deadline: the fastest candidate (c0) takes 10.00 h, 5.00 h over the 5 h deadline"
    assert reasons[1] == "budget: the cheapest candidate (c1) costs $60.00, $10.00 over the $50.00 budget"


def test_infeasible_when_each_limit_alone_is_met_but_not_both():
    c = cols([(1, 100), (20, 40)], budget=50, deadline=5)
    reasons = explain_infeasible(c, budget=50, deadline=5, label=str)
    assert reasons == ["budget and deadline together: meeting the 5 h deadline costs at least $100.00, "
                       "$50.00 over the $50.00 budget"]


def test_infeasible_with_no_candidate_at_all():
    assert explain_infeasible(cols([]), budget=1, deadline=1, label=str)[0].startswith("no candidate")

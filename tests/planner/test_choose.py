from planner.choose import explain_infeasible, knee, pareto_front, recommend
from planner.contracts import Candidate, LrChoice


def cand(cid: int, hours: float, cost: float, budget: float | None = None, deadline: float | None = None) -> Candidate:
    return Candidate(
        id=cid, provider="p", instance=f"i{cid}", region="r", market="on-demand", gpu="G", gpu_count=1,
        price_per_hour=cost / hours, per_gpu_batch=8, accumulation=1, global_batch=8, step_time_s=1.0,
        step_time_provenance="prior", samples_per_s=8.0, steps=10, samples=80.0, hours=hours, cost_usd=cost,
        memory_per_gpu_bytes=1.0, memory_limit_bytes=2.0, lr=LrChoice(lr=1e-3, rule="test", ratio=1.0),
        meets_deadline=deadline is None or hours <= deadline, meets_budget=budget is None or cost <= budget,
    )


def test_pareto_front_drops_dominated_points_fastest_first():
    cs = [cand(0, 1, 100), cand(1, 2, 50), cand(2, 3, 60), cand(3, 4, 20), cand(4, 1.5, 120)]
    assert [c.id for c in pareto_front(cs)] == [0, 1, 3]


def test_knee_is_the_point_farthest_below_the_chord():
    front = [cand(0, 1, 100), cand(1, 2, 30), cand(2, 3, 25), cand(3, 10, 20)]
    k = knee(front)
    assert k is not None and k.id == 1
    assert knee(front[:2]) is None


def test_cheapest_within_deadline_is_primary_and_fastest_within_budget_the_alternative():
    cs = [cand(0, 1, 100, budget=80, deadline=5), cand(1, 2, 50, budget=80, deadline=5),
          cand(2, 8, 20, budget=80, deadline=5)]
    rec, alts = recommend(cs, pareto_front(cs), budget=80, deadline=5)
    assert rec is not None
    assert (rec.policy, rec.candidate_id, rec.bound_by) == ("cheapest-within-deadline", 1, "deadline")
    assert "takes 8.00 h" in rec.reason  # the cheaper one missed the deadline, and the reason says so
    fastest = next(a for a in alts if a.policy == "fastest-within-budget")
    assert (fastest.candidate_id, fastest.bound_by) == (1, "budget")  # candidate 0 is over budget


def test_knee_alternative_when_it_meets_both_limits():
    cs = [cand(0, 1, 100), cand(1, 2, 30), cand(2, 3, 25), cand(3, 10, 20)]
    rec, alts = recommend(cs, pareto_front(cs), budget=None, deadline=None)
    assert rec is not None and rec.candidate_id == 3 and rec.bound_by == "none"
    assert [(a.policy, a.candidate_id) for a in alts] == [("fastest-within-budget", 0), ("knee", 1)]


def test_infeasible_says_which_limit_failed_and_by_how_much():
    cs = [cand(0, 10, 100, budget=50, deadline=5), cand(1, 20, 60, budget=50, deadline=5)]
    rec, _ = recommend(cs, pareto_front(cs), budget=50, deadline=5)
    assert rec is None
    reasons = explain_infeasible(cs, budget=50, deadline=5)
    assert any(r.startswith("deadline") and "5.00 h over" in r for r in reasons)
    assert any(r.startswith("budget") and "$10.00 over" in r for r in reasons)


def test_infeasible_when_each_limit_alone_is_met_but_not_both():
    cs = [cand(0, 1, 100, budget=50, deadline=5), cand(1, 20, 40, budget=50, deadline=5)]
    reasons = explain_infeasible(cs, budget=50, deadline=5)
    assert reasons == ["budget and deadline together: meeting the 5 h deadline costs at least $100.00, "
                       "$50.00 over the $50.00 budget"]

import pytest

from planner import priors
from planner.cost import run_cost


def test_on_demand_cost_is_hours_times_price():
    c = run_cost(3600, 10.0, "on-demand")
    assert (c.hours, c.billed_hours, c.cost_usd) == (1.0, 1.0, 10.0)


def test_spot_adds_the_interruption_overhead():
    c = run_cost(3600, 4.0, "spot")
    assert c.hours == pytest.approx(1 + priors.SPOT_INTERRUPTION_OVERHEAD)
    assert c.cost_usd == pytest.approx(4.0 * (1 + priors.SPOT_INTERRUPTION_OVERHEAD))


def test_hourly_billing_rounds_up():
    c = run_cost(5400, 2.0, "on-demand", billing_seconds=3600)
    assert c.hours == 1.5
    assert c.billed_hours == 2.0
    assert c.cost_usd == 4.0
    assert run_cost(5400, 2.0, "on-demand", billing_seconds=60).cost_usd == pytest.approx(3.0)

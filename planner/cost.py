"""Wall-clock hours and dollars of one run on one offer."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner import priors
from providers.schema import Market


@dataclass(frozen=True)
class RunCost:
    hours: float
    billed_hours: float
    cost_usd: float


def run_cost(compute_seconds: float, price_per_hour: float, market: Market, billing_seconds: int = 1) -> RunCost:
    """Spot runs take longer by the interruption overhead; billing rounds up to its granularity."""
    seconds = compute_seconds * (1 + priors.SPOT_INTERRUPTION_OVERHEAD) if market == "spot" else compute_seconds
    billed_seconds = math.ceil(seconds / billing_seconds) * billing_seconds
    billed_hours = billed_seconds / 3600
    return RunCost(hours=seconds / 3600, billed_hours=billed_hours, cost_usd=billed_hours * price_per_hour)

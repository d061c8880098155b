"""Candidates as table rows: the columns, how each cell reads, how rows sort and filter.

Sorting uses the numbers, never the formatted text, so "10.5" sorts after "9.2".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from planner.contracts.plan import Candidate, Plan
from planner.view import hours_text, money

YES, NO = "✓", "✗"
RECOMMENDED, FRONTIER = "★", "◆"


def short_gpu(name: str) -> str:
    """'H100-SXM-80GB' -> 'H100': the table is narrow; the detail panel shows the full name."""
    return name.split("-")[0]


def lr_text(lr: float) -> str:
    """3 significant figures in at most 7 characters: 0.00283, 7.07e-4."""
    if lr >= 1e-3:
        return f"{lr:.3g}"
    mantissa, exponent = f"{lr:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


INSTANCE_WIDTH = 16
"""Room for the instance name in an 80-column terminal; wider terminals give it more."""


def instance_text(instance: str, market: str, width: int = INSTANCE_WIDTH) -> str:
    """The instance name cut to `width`, keeping the ' spot' suffix visible: it changes the price."""
    suffix = " spot" if market == "spot" else ""
    room = width - len(suffix)
    name = instance if len(instance) <= room else instance[: room - 1] + "…"
    return name + suffix


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    cell: Callable[[Candidate], str]
    sort_key: Callable[[Candidate], float | str]
    numeric: bool = False


# Sized for an 80-column terminal: every column but the region fits without scrolling sideways.
COLUMNS: tuple[Column, ...] = (
    Column("provider", "Cloud", lambda c: c.provider, lambda c: c.provider),
    Column("instance", "Instance", lambda c: instance_text(c.instance, c.market), lambda c: c.instance),
    Column("gpus", "GPUs", lambda c: f"{c.gpu_count}×{short_gpu(c.gpu)}", lambda c: c.gpu_count, numeric=True),
    Column("global_batch", "Batch", lambda c: str(c.global_batch), lambda c: c.global_batch, numeric=True),
    Column("per_gpu", "B/GPU", lambda c: str(c.per_gpu_batch), lambda c: c.per_gpu_batch, numeric=True),
    Column("accumulation", "Acc", lambda c: str(c.accumulation), lambda c: c.accumulation, numeric=True),
    Column("lr", "LR", lambda c: lr_text(c.lr.lr), lambda c: c.lr.lr, numeric=True),
    Column("hours", "Hours", lambda c: hours_text(c.hours), lambda c: c.hours, numeric=True),
    Column("cost", "USD", lambda c: money(c.cost_usd), lambda c: c.cost_usd, numeric=True),
    Column("deadline", "Due", lambda c: YES if c.meets_deadline else NO, lambda c: not c.meets_deadline),
    Column("budget", "Bgt", lambda c: YES if c.meets_budget else NO, lambda c: not c.meets_budget),
    Column("region", "Region", lambda c: c.region, lambda c: c.region),
)
"""Due: meets the deadline. Bgt: within the budget. Region comes last: an 80-column terminal scrolls to it."""
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}


def marker(c: Candidate, plan: Plan) -> str:
    if plan.recommendation is not None and c.id == plan.recommendation.candidate_id:
        return RECOMMENDED
    return FRONTIER if c.id in plan.pareto else ""


def matches(c: Candidate, query: str) -> bool:
    """Every word of the query appears in the candidate's provider, instance, GPU, region or market."""
    haystack = f"{c.provider} {c.instance} {c.gpu} {c.region} {c.market}".lower()
    return all(word in haystack for word in query.lower().split())


@dataclass(frozen=True)
class RowFilter:
    """What the table shows: a text query, and whether to keep only candidates that meet both limits."""

    query: str = ""
    feasible_only: bool = False
    frontier_only: bool = False

    def keep(self, c: Candidate, plan: Plan) -> bool:
        if self.feasible_only and not (c.meets_deadline and c.meets_budget):
            return False
        if self.frontier_only and c.id not in plan.pareto:
            return False
        return matches(c, self.query)


def visible_rows(plan: Plan, row_filter: RowFilter, sort_key: str, reverse: bool) -> list[Candidate]:
    """The candidates to show, in order; ties keep the cheaper one first so the order is stable."""
    column = COLUMN_BY_KEY[sort_key]
    kept: Iterable[Candidate] = (c for c in plan.candidates if row_filter.keep(c, plan))
    ordered = sorted(kept, key=lambda c: (c.cost_usd, c.hours, c.id))
    return sorted(ordered, key=column.sort_key, reverse=reverse)

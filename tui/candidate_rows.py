"""Candidates as table rows: the columns, how each cell reads, how rows group, sort and filter.

Candidates that differ only by region are one row (the group's lead: the recommended one, else
one on the frontier, else the cheapest), which expands into one row per region. Sorting uses the
numbers, never the formatted text, so "10.5" sorts after "9.2".
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from planner.contracts.plan import DATA_INFLATION_FLAG, Candidate, Plan
from planner.view import hours_text, money

YES, NO = "✓", "✗"
RECOMMENDED, FRONTIER = "★", "◆"
GroupKey = tuple[str, str, str, str, int, int, int, int, int]


def short_gpu(name: str) -> str:
    """'H100-SXM-80GB' -> 'H100': the table is narrow; the detail panel shows the full name."""
    return name.split("-")[0]


def lr_text(lr: float) -> str:
    """3 significant figures in at most 7 characters: 0.00283, 7.07e-4."""
    if lr >= 1e-3:
        return f"{lr:.3g}"
    mantissa, exponent = f"{lr:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def instance_text(instance: str, market: str, width: int = 16) -> str:
    """The instance name cut to `width`, keeping the ' spot' suffix visible: it changes the price."""
    suffix = " spot" if market == "spot" else ""
    room = width - len(suffix)
    name = instance if len(instance) <= room else instance[: room - 1] + "…"
    return name + suffix


@dataclass(frozen=True)
class Group:
    """Candidates that differ only by region; `members` has the lead first."""

    key: GroupKey
    members: tuple[Candidate, ...]

    @property
    def lead(self) -> Candidate:
        return self.members[0]


@dataclass(frozen=True)
class TableRow:
    """One line of the table: a group's lead, or (detail) one region of an expanded group."""

    candidate: Candidate
    group: Group
    detail: bool = False


def range_text(c: Candidate) -> str:
    """'0.41–0.62': the hours at the ends of the plausible noise-scale range; blank without one."""
    return f"{hours_text(c.hours_range[0])}–{hours_text(c.hours_range[1])}" if c.hours_range else ""


def data_text(c: Candidate) -> str:
    """'1.4×!': samples trained on over those asked for, flagged past DATA_INFLATION_FLAG."""
    if c.data_ratio is None:
        return ""
    return f"{c.data_ratio:.2g}×" + ("!" if c.data_ratio > DATA_INFLATION_FLAG else "")


def region_text(row: TableRow) -> str:
    others = len(row.group.members) - 1
    return row.candidate.region if row.detail or not others else f"{row.candidate.region} +{others}"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    cell: Callable[[TableRow], str]
    sort_key: Callable[[Candidate], float | str]
    width: int
    letter: str
    numeric: bool = False


# Sized for an 80-column terminal; Region comes last, wider terminals give it and the instance more room.
COLUMNS: tuple[Column, ...] = (
    Column("provider", "Cloud", lambda r: r.candidate.provider, lambda c: c.provider, 8, "c"),
    Column("instance", "Instance", lambda r: instance_text(r.candidate.instance, r.candidate.market, 99),
           lambda c: c.instance, 14, "i"),
    Column("gpus", "GPUs", lambda r: f"{r.candidate.gpu_count}×{short_gpu(r.candidate.gpu)}", lambda c: c.gpu_count,
           7, "g", numeric=True),
    Column("nodes", "Nodes", lambda r: str(r.candidate.nodes), lambda c: c.nodes, 5, "v", numeric=True),
    Column("global_batch", "Batch", lambda r: str(r.candidate.global_batch), lambda c: c.global_batch, 5, "b",
           numeric=True),
    Column("per_gpu", "B/GPU", lambda r: str(r.candidate.per_gpu_batch), lambda c: c.per_gpu_batch, 5, "p",
           numeric=True),
    Column("accumulation", "Acc", lambda r: str(r.candidate.accumulation), lambda c: c.accumulation, 3, "a",
           numeric=True),
    Column("lr", "LR", lambda r: lr_text(r.candidate.lr.lr), lambda c: c.lr.lr, 7, "l", numeric=True),
    Column("hours", "Hours", lambda r: hours_text(r.candidate.hours), lambda c: c.hours, 5, "h", numeric=True),
    Column("cost", "USD", lambda r: money(r.candidate.cost_usd), lambda c: c.cost_usd, 7, "u", numeric=True),
    Column("deadline", "Due", lambda r: YES if r.candidate.meets_deadline else NO, lambda c: not c.meets_deadline,
           3, "d"),
    Column("budget", "Bgt", lambda r: YES if r.candidate.meets_budget else NO, lambda c: not c.meets_budget, 3, "t"),
    Column("precision", "Prec", lambda r: r.candidate.precision or "", lambda c: c.precision or "", 4, "k"),
    Column("hours_range", "Hours range", lambda r: range_text(r.candidate),
           lambda c: c.hours_range[1] if c.hours_range else c.hours, 11, "w", numeric=True),
    Column("data", "Data", lambda r: data_text(r.candidate), lambda c: c.data_ratio or 1.0, 6, "y", numeric=True),
    Column("price", "$/h", lambda r: f"{r.candidate.price_per_hour:,.2f}", lambda c: c.price_per_hour, 7, "x",
           numeric=True),
    Column("step", "Step ms", lambda r: f"{r.candidate.step_time_s * 1e3:,.0f}", lambda c: c.step_time_s, 7, "s",
           numeric=True),
    Column("memory", "GB/GPU", lambda r: f"{r.candidate.memory_per_gpu_bytes / 1e9:.1f}",
           lambda c: c.memory_per_gpu_bytes, 6, "m", numeric=True),
    Column("layout", "Layout", lambda r: r.candidate.layout, lambda c: c.layout, 6, "o"),
    Column("checkpointing", "Ckpt", lambda r: r.candidate.checkpointing, lambda c: c.checkpointing, 9, "e"),
    Column("region", "Region", region_text, lambda c: c.region, 10, "n"),
)
"""GPUs: per instance; Nodes: instances rented together. Due: meets the deadline. Bgt: within the budget. `letter` sorts by the column (again: reverses).
Prec (the candidate's precision), Hours range (at both ends of the plausible noise scale), Data (samples over those asked for; ! past
the flag), $/h, Step ms, GB/GPU, Layout (ddp, zero1, zero2, fsdp, hsdp) and Ckpt (activation checkpointing) show on wide
terminals only (the Why tab has them at any width)."""
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
COLUMN_BY_LETTER = {column.letter: column for column in COLUMNS}


def marker(c: Candidate, plan: Plan) -> str:
    if plan.recommendation is not None and c.id == plan.recommendation.candidate_id:
        return RECOMMENDED
    return FRONTIER if c.id in plan.pareto else ""


def matches(c: Candidate, words: list[str]) -> bool:
    """Every word appears in the candidate's provider, instance, GPU or market, or starts its region."""
    haystack = f"{c.provider} {c.instance} {c.gpu} {c.market}".lower()
    region = c.region.lower()
    return all(word in haystack or region.startswith(word) for word in words)


@dataclass(frozen=True)
class RowFilter:
    """What the table shows: a text query, and whether to keep only candidates that meet both limits."""

    query: str = ""
    feasible_only: bool = False
    frontier_only: bool = False

    def keeper(self, plan: Plan) -> Callable[[Candidate], bool]:
        words = self.query.lower().split()
        frontier = set(plan.pareto)

        def keep(c: Candidate) -> bool:
            if self.feasible_only and not (c.meets_deadline and c.meets_budget):
                return False
            if self.frontier_only and c.id not in frontier:
                return False
            return not words or matches(c, words)

        return keep


def group_key(c: Candidate) -> GroupKey:
    return (c.provider, c.instance, c.market, c.gpu, c.gpu_count, c.nodes, c.global_batch, c.per_gpu_batch,
            c.accumulation)


def groups(plan: Plan, kept: Iterable[Candidate]) -> list[Group]:
    """The kept candidates grouped by everything but the region, cheapest first, each group's lead first.

    One sort of all candidates, then buckets: 5,000 candidates group in a few milliseconds.
    """
    recommended = plan.recommendation.candidate_id if plan.recommendation is not None else -1
    frontier = set(plan.pareto)
    by_key: dict[GroupKey, list[Candidate]] = {}
    for c in sorted(kept, key=lambda c: (c.cost_usd, c.hours, c.id)):
        by_key.setdefault(group_key(c), []).append(c)
    out = []
    for key, members in by_key.items():
        lead = next((i for i, c in enumerate(members) if c.id == recommended), None)
        if lead is None:
            lead = next((i for i, c in enumerate(members) if c.id in frontier), 0)
        if lead:
            members.insert(0, members.pop(lead))
        out.append(Group(key, tuple(members)))
    return out


def table_rows(plan: Plan, row_filter: RowFilter, sort_key: str, reverse: bool,
               expanded: Collection[GroupKey] = ()) -> list[TableRow]:
    """The rows to show, in order; ties keep the cheaper one first so the order is stable."""
    column = COLUMN_BY_KEY[sort_key]
    found = groups(plan, filter(row_filter.keeper(plan), plan.candidates))
    found.sort(key=lambda g: (g.lead.cost_usd, g.lead.hours, g.lead.id))  # ties: the cheaper first
    found.sort(key=lambda g: column.sort_key(g.lead), reverse=reverse)
    rows: list[TableRow] = []
    for g in found:
        rows.append(TableRow(g.lead, g))
        if g.key in expanded and len(g.members) > 1:
            rows += [TableRow(c, g, detail=True) for c in sorted(g.members, key=lambda c: (c.cost_usd, c.region))]
    return rows

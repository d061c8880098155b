"""The plan's candidates as a sortable, filterable, grouped table that repaints only what is on screen.

A re-plan, sort or filter replaces the row list (sorting 5,000 candidates takes milliseconds)
and the grid draws the rows in view; the view goes back to the top, where the sort puts the
rows the user asked for.
"""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message

from planner.contracts.plan import Candidate, Plan
from tui.candidate_rows import (
    COLUMN_BY_KEY,
    COLUMNS,
    GroupKey,
    RowFilter,
    TableRow,
    marker,
    table_rows,
)
from tui.widgets.grid import Grid, GridColumn

NARROW_DROPS = ("per_gpu", "accumulation", "precision", "hours_range", "data", "price", "step", "memory", "layout",
                "checkpointing")
"""Left out, right to left, when the terminal is too narrow for the region; the Why tab shows them."""


def columns(region_width: int = 10) -> tuple[GridColumn, ...]:
    return tuple(GridColumn(c.key, c.title, region_width if c.key == "region" else c.width, c.numeric,
                            flexible=c.key == "instance", sort_letter=c.letter, droppable=c.key in NARROW_DROPS)
                 for c in COLUMNS)


SORT_BINDINGS = [Binding(c.letter, f"sort('{c.key}')", f"Sort by {c.title}", show=False) for c in COLUMNS]


class CandidateTable(Grid):
    """A column's letter (or a click on its header) sorts by it, again reverses; space shows a group's regions."""

    BINDINGS = [
        *SORT_BINDINGS,
        Binding("r", "reverse_sort", "Reverse", show=False),
        Binding("space", "toggle_group", "Regions", show=False),
    ]

    class CandidateChosen(Message):
        """The user pressed Enter on a row: show how that candidate's figures were obtained."""

        def __init__(self, candidate_id: int) -> None:
            super().__init__()
            self.candidate_id = candidate_id

    class CandidateHighlighted(Message):
        """The cursor moved onto a candidate (the chart marks it)."""

        def __init__(self, candidate_id: int | None) -> None:
            super().__init__()
            self.candidate_id = candidate_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(columns(), id=id)
        self.plan: Plan | None = None
        self.row_filter = RowFilter()
        self.sort_key = "cost"
        self.reverse = False
        self.expanded: set[GroupKey] = set()
        self.rows: list[TableRow] = []

    def show(self, plan: Plan | None) -> None:
        self.plan = plan
        self._rebuild()

    def sort_by(self, key: str, reverse: bool = False) -> None:
        self.sort_key, self.reverse = key, reverse
        self._rebuild()

    def filter_rows(self, row_filter: RowFilter) -> None:
        self.row_filter = row_filter
        self._rebuild()

    def shown_ids(self) -> list[int]:
        """Candidate ids in the order the table shows them (a group counts once, by its lead, unless expanded)."""
        return [r.candidate.id for r in self.rows]

    def highlighted(self) -> Candidate | None:
        return self.rows[self.cursor].candidate if self.rows else None

    def action_sort(self, key: str) -> None:
        self.sort_by(key, reverse=not self.reverse if key == self.sort_key else False)

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_key, not self.reverse)

    def action_toggle_group(self) -> None:
        """Expand the highlighted group into its regions, or fold it back; the cursor stays on it."""
        if not self.rows:
            return
        row = self.rows[self.cursor]
        if len(row.group.members) < 2:
            self.notify("this candidate is offered in one region only")
            return
        self.expanded ^= {row.group.key}
        self._rebuild(keep=row.group.key)

    @on(Grid.HeaderClicked)
    def _header_clicked(self, event: Grid.HeaderClicked) -> None:
        event.stop()
        if event.key in COLUMN_BY_KEY:
            self.action_sort(event.key)

    @on(Grid.Selected)
    def _row_selected(self, event: Grid.Selected) -> None:
        event.stop()
        self.post_message(self.CandidateChosen(self.rows[event.index].candidate.id))

    @on(Grid.Highlighted)
    def _row_highlighted(self, event: Grid.Highlighted) -> None:
        event.stop()
        if event.index < len(self.rows):
            self.post_message(self.CandidateHighlighted(self.rows[event.index].candidate.id))

    def _cells(self, index: int) -> tuple[list[str], str]:
        row, plan = self.rows[index], self.plan
        assert plan is not None
        cells = [column.cell(row) for column in COLUMNS]
        if row.detail:
            cells[0] = "  └"
            return cells, "muted"
        mark = marker(row.candidate, plan)
        cells[0] = f"{mark or ' '} {cells[0]}"
        return cells, "marked" if mark == "★" else ""

    def _rebuild(self, keep: GroupKey | None = None) -> None:
        plan = self.plan
        self.rows = table_rows(plan, self.row_filter, self.sort_key, self.reverse, self.expanded) if plan else []
        region = COLUMN_BY_KEY["region"]
        region_width = max((len(region.cell(r)) for r in self.rows), default=region.width)
        self.columns = columns(region_width)
        empty = "no candidate matches the filter" if plan is not None else ""
        self.set_rows(len(self.rows), self._cells, sort_key=self.sort_key, reverse=self.reverse, empty_text=empty)
        if keep is not None:
            at = next(i for i, r in enumerate(self.rows) if r.group.key == keep and not r.detail)
            self.cursor = at
        if not self.rows:
            self.post_message(self.CandidateHighlighted(None))

"""The plan's candidates as a sortable, filterable table.

Rows are rebuilt from the Plan on every change (sort, filter, re-plan): a plan holds at most a
few thousand candidates, and rebuilding keeps the table a pure function of its inputs.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from planner.contracts.plan import Candidate, Plan
from tui.candidate_rows import COLUMN_BY_KEY, COLUMNS, INSTANCE_WIDTH, RowFilter, instance_text, marker, visible_rows

OTHER_COLUMNS_WIDTH = 64 + 16
"""Every column but the instance (the region at its usual widest), with one-space gaps and the scrollbar."""


class CandidateTable(DataTable[Text]):
    """Click a header (or press s / r) to sort; Enter explains the highlighted candidate."""

    BINDINGS = [
        Binding("s", "next_sort", "Sort"),
        Binding("r", "reverse_sort", "Reverse"),
    ]

    class CandidateChosen(Message):
        """The user pressed Enter on a row: show how that candidate's figures were obtained."""

        def __init__(self, candidate_id: int) -> None:
            super().__init__()
            self.candidate_id = candidate_id

    def __init__(self, *, id: str | None = None) -> None:
        # No cell padding: each cell brings one leading space instead of two, so 80 columns hold the table.
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self.plan: Plan | None = None
        self.row_filter = RowFilter()
        self.sort_key = "cost"
        self.reverse = False
        self.instance_width = INSTANCE_WIDTH

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
        """Candidate ids in the order the table shows them."""
        return [int(str(row.key.value)) for row in self.ordered_rows]

    def on_resize(self) -> None:
        width = max(INSTANCE_WIDTH, self.size.width - OTHER_COLUMNS_WIDTH)
        if width != self.instance_width:
            self.instance_width = width
            self._rebuild()

    def _cell(self, key: str, c: Candidate) -> str:
        if key == "instance":
            return instance_text(c.instance, c.market, self.instance_width)
        return COLUMN_BY_KEY[key].cell(c)

    def action_next_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.sort_by(keys[(keys.index(self.sort_key) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self.sort_key, not self.reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if key in COLUMN_BY_KEY:
            self.sort_by(key, reverse=not self.reverse if key == self.sort_key else False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.CandidateChosen(int(str(event.row_key.value))))

    def _title(self, key: str, title: str) -> Text:
        justify = "right" if COLUMN_BY_KEY[key].numeric else "left"
        if key != self.sort_key:
            return Text(f" {title}", justify=justify)
        return Text(f" {title}{'▼' if self.reverse else '▲'}", style="bold", justify=justify)

    def _rebuild(self) -> None:
        highlighted = self._highlighted_id()
        self.clear(columns=True)
        for column in COLUMNS:
            self.add_column(self._title(column.key, column.title), key=column.key)
        if self.plan is None:
            return
        plan = self.plan
        rows = visible_rows(plan, self.row_filter, self.sort_key, self.reverse)
        for c in rows:
            cells = [Text(" " + self._cell(col.key, c), justify="right" if col.numeric else "left") for col in COLUMNS]
            cells[0] = Text(marker(c, plan) or " ") + cells[0]
            self.add_row(*cells, key=str(c.id))
        ids = [c.id for c in rows]
        if highlighted in ids:
            self.move_cursor(row=ids.index(highlighted), scroll=True)

    def _highlighted_id(self) -> int | None:
        if not self.row_count:
            return None
        try:
            return int(str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value))
        except CellDoesNotExist:  # the cursor sits outside the rows: nothing to keep
            return None

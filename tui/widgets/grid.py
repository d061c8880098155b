"""A virtual table: a fixed header line and rows drawn only when they are on screen.

Textual's DataTable measures and stores every cell, so 5,000 rows take seconds to paint; this
widget asks its owner for the cells of the rows in view only, so a new row list repaints in
the time of one screen of text, whatever its length. The owner keeps the rows (sorted,
filtered, grouped) and tells the grid how many there are and how to draw row i.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

RowKind = str
"""How a row reads: "" (plain), "muted" (a detail row under a group) or "marked" (the recommendation)."""
RowCells = Callable[[int], tuple[Sequence[str], RowKind]]


@dataclass(frozen=True)
class GridColumn:
    """`width` in cells without the leading space; a `flexible` column takes what the others leave;
    a `droppable` one is left out when the columns do not fit (the detail views still show it)."""

    key: str
    title: str
    width: int
    numeric: bool = False
    flexible: bool = False
    sort_letter: str = ""
    droppable: bool = False


def fit(text: str, width: int, right: bool) -> str:
    """The text cut with an ellipsis or padded to exactly `width` cells (cell text is single-width)."""
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width else ""
    return text.rjust(width) if right else text.ljust(width)


class Grid(ScrollView, can_focus=True):
    """Up/down/page/home/end move the cursor; Enter (or a click on the cursor row) selects it."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Explain", show=False),
    ]
    COMPONENT_CLASSES = {"grid--header", "grid--sorted", "grid--cursor", "grid--odd", "grid--muted", "grid--marked"}
    DEFAULT_CSS = """
    Grid { height: 1fr; background: $surface; }
    Grid > .grid--header { background: $panel; color: $text; }
    Grid > .grid--sorted { background: $panel; color: $text-accent; text-style: bold; }
    Grid > .grid--cursor { background: $block-cursor-blurred-background; }
    Grid:focus > .grid--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    Grid > .grid--odd { background: $surface-lighten-1; }
    Grid > .grid--muted { color: $text-muted; }
    Grid > .grid--marked { color: $text-success; }
    """

    cursor: reactive[int] = reactive(0, init=False)

    class Highlighted(Message):
        def __init__(self, grid: Grid, index: int) -> None:
            super().__init__()
            self.grid, self.index = grid, index

    class Selected(Message):
        def __init__(self, grid: Grid, index: int) -> None:
            super().__init__()
            self.grid, self.index = grid, index

    class HeaderClicked(Message):
        def __init__(self, grid: Grid, key: str) -> None:
            super().__init__()
            self.grid, self.key = grid, key

    def __init__(self, columns: Sequence[GridColumn], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.row_count = 0
        self.cells: RowCells = lambda _i: ((), "")
        self.sort_key = ""
        self.reverse = False
        self.empty_text = ""

    def set_rows(self, count: int, cells: RowCells, *, sort_key: str, reverse: bool, empty_text: str = "") -> None:
        """A new row list: the view goes back to the top, with the cursor on the first row."""
        self.row_count, self.cells, self.sort_key, self.reverse = count, cells, sort_key, reverse
        self.empty_text = empty_text
        self.virtual_size = Size(self.size.width, count + 1)
        self.set_reactive(Grid.cursor, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()
        if count:
            self.post_message(self.Highlighted(self, 0))

    def widths(self) -> list[int]:
        """Each column's width for the current size (0: dropped); the flexible one grows into the spare cells."""
        widths = [c.width for c in self.columns]
        room = self.scrollable_content_region.width
        for i in reversed(range(len(widths))):
            if sum(w + 1 for w in widths if w) <= room:
                break
            if self.columns[i].droppable:
                widths[i] = 0
        spare = room - sum(w + 1 for w in widths if w)
        for i, c in enumerate(self.columns):
            if c.flexible:  # grows into spare cells up to twice its width, or gives up a third when short
                widths[i] = min(max(widths[i] + spare, widths[i] * 2 // 3), widths[i] * 2)
                break
        return widths

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.row_count + 1)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"grid--{name}")

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        index = round(self.scroll_offset.y) + y - 1
        if self.row_count == 0:
            text = self.empty_text if y == 1 else ""
            return Strip([Segment(fit(text, width, False), self._style("muted"))], width)
        if index >= self.row_count:
            return Strip.blank(width, self.rich_style)
        texts, kind = self.cells(index)
        base = self.rich_style + (self._style("odd") if index % 2 else Style())
        if kind:
            base += self._style(kind)
        if index == self.cursor:
            base += self._style("cursor")
        line = "".join(" " + fit(t, w, c.numeric) for t, w, c in zip(texts, self.widths(), self.columns) if w)
        return Strip([Segment(fit(line, width, False), base)], width)

    def _header(self, width: int) -> Strip:
        segments = []
        for column, w in zip(self.columns, self.widths()):
            if not w:
                continue
            sorted_here = column.key == self.sort_key
            title = column.title + (("▼" if self.reverse else "▲") if sorted_here else "")
            segments.append(Segment(" " + fit(title, w, column.numeric),
                                    self._style("sorted" if sorted_here else "header")))
        used = sum(len(s.text) for s in segments)
        segments.append(Segment(" " * max(0, width - used), self._style("header")))
        return Strip(segments, width).crop(0, width)

    def column_at(self, x: int) -> str | None:
        edge = 0
        for column, w in zip(self.columns, self.widths()):
            if not w:
                continue
            edge += w + 1
            if x < edge:
                return column.key
        return None

    def _move(self, index: int) -> None:
        if not self.row_count:
            return
        index = max(0, min(self.row_count - 1, index))
        if index != self.cursor:
            self.cursor = index

    def watch_cursor(self, old: int, new: int) -> None:
        top = round(self.scroll_offset.y)
        visible = max(1, self.scrollable_content_region.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Highlighted(self, new))

    def action_cursor(self, step: int) -> None:
        self._move(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.scrollable_content_region.height - 2))

    def action_jump(self, index: int) -> None:
        self._move(index if index >= 0 else self.row_count - 1)

    def action_select(self) -> None:
        if self.row_count:
            self.post_message(self.Selected(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            key = self.column_at(offset.x)
            if key is not None:
                self.post_message(self.HeaderClicked(self, key))
            return
        index = round(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < self.row_count:
            if index == self.cursor:
                self.action_select()
            self._move(index)

"""A character-cell XY plot: markers, joining dots, guide lines, round ticks, a left and a right y axis.

Enough for a handful of probe points or a few thousand candidates, with no plotting dependency.
Ticks sit at round values (1-2-5 steps; decades on a log axis) and the axes carry their titles,
a log axis saying so. Colours come from component classes, so the plot follows the theme.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

Axis = Literal["left", "right"]
Format = Callable[[float], str]
Cell = tuple[str, Style]
LOG_MANTISSAS = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0))
"""Tick values per decade on a log axis, sparsest first."""


def compact_number(value: float) -> str:
    """3 significant figures with k/M/G suffixes: tick labels must stay a few cells wide."""
    magnitude = abs(value)
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def linear_ticks(low: float, high: float, count: int) -> list[float]:
    """Multiples of a 1-2-5 step between low and high: at most `count` of them where two fit, else the two."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(1, count - 1)
    base = 10 ** math.floor(math.log10(raw))
    steps = [m * base for m in (10, 5, 2, 1, 0.5, 0.2, 0.1)]
    best: list[float] = []
    for step in sorted(steps, reverse=True):
        first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
        ticks = [round(k * step, 12) for k in range(first, last + 1)]
        if len(ticks) > max(2, count) and len(best) >= 2:
            break
        best = ticks
    return best


def log_ticks(low: float, high: float, count: int) -> list[float]:
    """Decades (then 1-3, 1-2-5 per decade) between low and high; 1-2-5 steps when under a decade apart."""
    best: list[float] = []
    for mantissas in LOG_MANTISSAS:
        ticks = [m * 10.0**e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
                 for m in mantissas if low * (1 - 1e-9) <= m * 10.0**e <= high * (1 + 1e-9)]
        if len(ticks) > count:
            break
        best = ticks
        if len(ticks) >= 3:
            break
    if len(best) >= 3:
        return best
    linear = linear_ticks(low, high, count)  # under a decade or two apart: 1-2-5 steps say more
    return linear if len(linear) > len(best) else best


@dataclass(frozen=True)
class Series:
    """Points drawn with one marker; `style` names a component class of XYPlot (xyplot--<style>)."""

    name: str
    points: Sequence[tuple[float, float]]
    marker: str
    style: str
    axis: Axis = "left"
    joined: bool = False


@dataclass(frozen=True)
class Guide:
    """A dotted reference line at x = value (vertical) or y = value on the left axis (horizontal)."""

    name: str
    along: Literal["x", "y"]
    value: float


@dataclass(frozen=True)
class Scale:
    """One axis: its range in plot units (log10 of the data on a log axis) and how labels read."""

    low: float
    high: float
    log: bool
    fmt: Format

    @classmethod
    def of(cls, values: Sequence[float], *, log: bool, from_zero: bool, fmt: Format) -> Scale:
        units = [math.log10(v) for v in values if v > 0] if log else list(values)
        if not units:
            units = [0.0]
        low = min(0.0, min(units)) if from_zero and not log else min(units)
        high = max(units)
        if high == low:
            pad = 0.5 if log else abs(high) * 0.1 or 1.0
            low, high = (low if from_zero and not log and low == 0 else low - pad), high + pad
        return cls(low, high, log, fmt)

    def cell(self, value: float, cells: int) -> int | None:
        """The cell index for a data value, or None when it lies outside (or cannot lie on) the axis."""
        if self.log and value <= 0:
            return None
        unit = math.log10(value) if self.log else value
        index = round((unit - self.low) / (self.high - self.low) * (cells - 1))
        return index if 0 <= index < cells else None

    def ticks(self, count: int) -> list[float]:
        """Round data values inside the axis, at most `count`."""
        if self.log:
            return log_ticks(10**self.low, 10**self.high, count)
        return linear_ticks(self.low, self.high, count)


class XYPlot(Widget):
    """Plots `series` and `guides` into the widget's size, redrawn on resize; guides widen the axes to show."""

    COMPONENT_CLASSES = {
        "xyplot--axis",
        "xyplot--primary",
        "xyplot--secondary",
        "xyplot--muted",
        "xyplot--highlight",
        "xyplot--guide",
        "xyplot--cursor",
    }

    DEFAULT_CSS = """
    XYPlot { height: 1fr; min-height: 6; }
    XYPlot > .xyplot--axis { color: $text-muted; }
    XYPlot > .xyplot--primary { color: $text-primary; text-style: bold; }
    XYPlot > .xyplot--secondary { color: $text-warning; text-style: bold; }
    XYPlot > .xyplot--muted { color: $text-muted; }
    XYPlot > .xyplot--highlight { color: $text-success; text-style: bold; }
    XYPlot > .xyplot--guide { color: $text-error; }
    XYPlot > .xyplot--cursor { color: $text-accent; text-style: bold reverse; }
    """

    series: reactive[tuple[Series, ...]] = reactive(tuple)
    guides: reactive[tuple[Guide, ...]] = reactive(tuple)

    def __init__(
        self,
        *,
        x_title: str,
        y_title: str = "",
        y_right_title: str = "",
        x_log: bool = False,
        y_log: bool = False,
        x_format: Format = compact_number,
        y_format: Format = compact_number,
        y_right_format: Format = compact_number,
        empty_text: str = "no data yet",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.x_title = x_title + (" (log scale)" if x_log else "")
        self.y_title = y_title + (" (log scale)" if y_log and y_title else "")
        self.y_right_title = y_right_title
        self.x_log = x_log
        self.y_log = y_log
        self.x_format = x_format
        self.y_format = y_format
        self.y_right_format = y_right_format
        self.empty_text = empty_text

    def plot(self, *series: Series, guides: Sequence[Guide] = ()) -> None:
        self.series = tuple(series)
        self.guides = tuple(guides)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"xyplot--{name}")

    def _legend(self, width: int) -> Text:
        legend = Text()
        for s in self.series:
            if s.points:
                legend.append(f"{s.marker} ", self._style(s.style))
                legend.append(f"{s.name}{' (right)' if s.axis == 'right' else ''}   ")
        for g in self.guides:
            legend.append("┊ " if g.along == "x" else "┄ ", self._style("guide"))
            legend.append(f"{g.name}   ")
        legend.rstrip()
        legend.truncate(width, overflow="ellipsis")
        return legend

    def render(self) -> Text:
        drawn = [s for s in self.series if s.points]
        if not drawn:
            return Text(self.empty_text, style=self._style("muted"))
        width, height = self.content_size.width, self.content_size.height
        x_values = [x for s in drawn for x, _ in s.points] + [g.value for g in self.guides if g.along == "x"]
        x_scale = Scale.of(x_values, log=self.x_log, from_zero=False, fmt=self.x_format)
        y_scales: dict[Axis, Scale] = {}
        for axis, fmt in (("left", self.y_format), ("right", self.y_right_format)):
            values = [y for s in drawn if s.axis == axis for _, y in s.points]
            if values and axis == "left":
                values += [g.value for g in self.guides if g.along == "y"]
            if values:
                y_scales[axis] = Scale.of(values, log=self.y_log, from_zero=not self.y_log, fmt=fmt)
        title_rows = 1 if self.y_title or self.y_right_title else 0
        rows = max(2, height - 4 - title_rows)
        ticks = {axis: {rows - 1 - row: scale.fmt(v) for v in scale.ticks(max(2, rows // 3))
                        if (row := scale.cell(v, rows)) is not None}
                 for axis, scale in y_scales.items()}
        left_w = max((len(t) for t in ticks.get("left", {}).values()), default=0) + 1
        right_w = max((len(t) for t in ticks.get("right", {}).values()), default=-1) + 1
        cols = max(4, width - left_w - right_w - 1)

        grid: list[list[Cell]] = [[(" ", Style())] * cols for _ in range(rows)]
        self._draw_guides(grid, x_scale, y_scales.get("left"))
        for s in drawn:
            y_scale = y_scales[s.axis]
            cells = []
            for x, y in s.points:
                col, row = x_scale.cell(x, cols), y_scale.cell(y, rows)
                if col is not None and row is not None:
                    cells.append((col, rows - 1 - row))
            if s.joined:
                self._join(grid, sorted(cells), self._style(s.style))
            for col, row in cells:
                grid[row][col] = (s.marker, self._style(s.style))
        out = self._legend(width)
        if title_rows:
            out.append("\n" + self.y_title.ljust(max(0, width - len(self.y_right_title))) + self.y_right_title,
                       self._style("axis"))
        return self._frame(out, grid, ticks, left_w, right_w, x_scale)

    def _draw_guides(self, grid: list[list[Cell]], x_scale: Scale, y_scale: Scale | None) -> None:
        rows, cols = len(grid), len(grid[0])
        style = self._style("guide")
        for g in self.guides:
            if g.along == "x":
                col = x_scale.cell(g.value, cols)
                if col is not None:
                    for row in range(rows):
                        grid[row][col] = ("┊", style)
            elif y_scale is not None:
                row = y_scale.cell(g.value, rows)
                if row is not None:
                    grid[rows - 1 - row] = [("┄", style)] * cols

    @staticmethod
    def _join(grid: list[list[Cell]], cells: list[tuple[int, int]], style: Style) -> None:
        """Dots between consecutive points, over blank and guide cells only: markers stay readable."""
        for (c0, r0), (c1, r1) in zip(cells, cells[1:]):
            steps = max(abs(c1 - c0), abs(r1 - r0))
            for i in range(1, steps):
                col = round(c0 + (c1 - c0) * i / steps)
                row = round(r0 + (r1 - r0) * i / steps)
                if grid[row][col][0] in " ┊┄":
                    grid[row][col] = ("·", style)

    def _frame(self, out: Text, grid: list[list[Cell]], ticks: dict[Axis, dict[int, str]], left_w: int,
               right_w: int, x_scale: Scale) -> Text:
        axis = self._style("axis")
        cols = len(grid[0])
        for r, line in enumerate(grid):
            out.append("\n")
            left = ticks.get("left", {}).get(r, "")
            out.append(left.rjust(left_w - 1) + (" ┤" if left else " │"), axis)
            for char, style in line:
                out.append(char, style)
            if right_w:
                out.append(" " + ticks.get("right", {}).get(r, ""), axis)
        out.append("\n" + " " * left_w + "└" + "─" * cols, axis)
        out.append("\n" + self._x_ticks(cols, left_w + 1, x_scale), axis)
        out.append("\n" + self.x_title.rjust(left_w + 1 + cols), axis)
        return out

    @staticmethod
    def _x_ticks(cols: int, indent: int, x_scale: Scale) -> str:
        """Round values centred under their column, each dropped if it would touch another."""
        line = [" "] * (indent + cols)
        for value in x_scale.ticks(max(2, cols // 8)):
            col = x_scale.cell(value, cols)
            if col is None:
                continue
            text = x_scale.fmt(value)
            start = min(max(indent + col - len(text) // 2, indent), indent + cols - len(text))
            if all(c == " " for c in line[max(0, start - 1):start + len(text) + 1]):
                line[start:start + len(text)] = text
        return "".join(line).rstrip()

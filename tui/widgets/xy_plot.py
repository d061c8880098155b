"""A character-cell XY plot: markers, joining dots, guide lines, a left and a right y axis.

Enough for a handful of probe points or a few thousand candidates, with no plotting dependency.
Colours come from component classes, so the plot follows the theme (dark or light).
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


def compact_number(value: float) -> str:
    """3 significant figures with k/M/G suffixes: tick labels must stay a few cells wide."""
    magnitude = abs(value)
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


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

    def label(self, fraction: float) -> str:
        unit = self.low + fraction * (self.high - self.low)
        return self.fmt(10**unit if self.log else unit)


class XYPlot(Widget):
    """Plots `series` and `guides` into the widget's size, redrawn on resize."""

    COMPONENT_CLASSES = {
        "xyplot--axis",
        "xyplot--primary",
        "xyplot--secondary",
        "xyplot--muted",
        "xyplot--highlight",
        "xyplot--guide",
    }

    DEFAULT_CSS = """
    XYPlot { height: 1fr; min-height: 6; }
    XYPlot > .xyplot--axis { color: $text-muted; }
    XYPlot > .xyplot--primary { color: $text-primary; text-style: bold; }
    XYPlot > .xyplot--secondary { color: $text-warning; text-style: bold; }
    XYPlot > .xyplot--muted { color: $text-muted; }
    XYPlot > .xyplot--highlight { color: $text-success; text-style: bold; }
    XYPlot > .xyplot--guide { color: $text-error; }
    """

    series: reactive[tuple[Series, ...]] = reactive(tuple)
    guides: reactive[tuple[Guide, ...]] = reactive(tuple)

    def __init__(
        self,
        *,
        x_title: str,
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
        self.x_title = x_title
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
            legend.append(f"{s.marker} ", self._style(s.style))
            legend.append(f"{s.name}{' (right)' if s.axis == 'right' else ''}   ")
        for g in self.guides:
            legend.append("┊ " if g.along == "x" else "┄ ", self._style("guide"))
            legend.append(f"{g.name}   ")
        legend.append(f"x: {self.x_title}", self._style("axis"))
        legend.truncate(width, overflow="ellipsis")
        return legend

    def render(self) -> Text:
        drawn = [s for s in self.series if s.points]
        if not drawn:
            return Text(self.empty_text, style=self._style("muted"))
        width, height = self.content_size.width, self.content_size.height
        x_scale = Scale.of([x for s in drawn for x, _ in s.points], log=self.x_log, from_zero=False,
                           fmt=self.x_format)
        y_scales: dict[Axis, Scale] = {}
        for axis, fmt in (("left", self.y_format), ("right", self.y_right_format)):
            values = [y for s in drawn if s.axis == axis for _, y in s.points]
            if values:
                y_scales[axis] = Scale.of(values, log=self.y_log, from_zero=True, fmt=fmt)
        rows = max(2, height - 3)
        fractions = (1.0, 0.5, 0.0)
        ticks = {axis: [scale.label(f) for f in fractions] for axis, scale in y_scales.items()}
        left_w = max((len(t) for t in ticks.get("left", [])), default=0) + 1
        right_w = max((len(t) for t in ticks.get("right", [])), default=-1) + 1
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
        return self._frame(grid, ticks, left_w, right_w, x_scale)

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

    def _frame(self, grid: list[list[Cell]], ticks: dict[Axis, list[str]], left_w: int, right_w: int,
               x_scale: Scale) -> Text:
        axis = self._style("axis")
        rows, cols = len(grid), len(grid[0])
        tick_rows = {0: 0, rows // 2: 1, rows - 1: 2}
        out = self._legend(left_w + 1 + cols + right_w)
        for r, line in enumerate(grid):
            out.append("\n")
            tick = tick_rows.get(r)
            left = ticks["left"][tick] if "left" in ticks and tick is not None else ""
            out.append(left.rjust(left_w - 1) + " │", axis)
            for char, style in line:
                out.append(char, style)
            if right_w:
                out.append(" " + (ticks["right"][tick] if tick is not None else ""), axis)
        out.append("\n" + " " * left_w + "└" + "─" * cols, axis)
        out.append("\n" + self._x_ticks(cols, left_w + 1, x_scale), axis)
        return out

    @staticmethod
    def _x_ticks(cols: int, indent: int, x_scale: Scale) -> str:
        """Labels at both ends and the middle, each dropped if it would touch another."""
        line = [" "] * (indent + cols)
        for fraction in (0.0, 1.0, 0.5):
            text = x_scale.label(fraction)
            start = indent + round(fraction * (cols - 1)) - round(fraction * (len(text) - 1))
            start = min(max(start, indent), indent + cols - len(text))
            if all(c == " " for c in line[max(0, start - 1):start + len(text) + 1]):
                line[start:start + len(text)] = text
        return "".join(line).rstrip()

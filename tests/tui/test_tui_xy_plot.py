"""The text plot: points land where their values say, axes label the ranges, guides and joins draw."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.widgets.xy_plot import Guide, Series, XYPlot, compact_number


class PlotApp(App[None]):
    def compose(self) -> ComposeResult:
        yield XYPlot(x_title="batch", x_log=True)


async def rendered(*series: Series, guides: tuple[Guide, ...] = (), size: tuple[int, int] = (40, 12)) -> list[str]:
    app = PlotApp()
    async with app.run_test(size=size) as pilot:
        plot = app.query_one(XYPlot)
        plot.plot(*series, guides=guides)
        await pilot.pause()
        return str(plot.render()).splitlines()


def test_compact_numbers() -> None:
    assert [compact_number(v) for v in (0.000123, 12.345, 1234, 2.5e6, 7e9)] == ["0.000123", "12.3", "1.23k",
                                                                                 "2.5M", "7G"]


async def test_points_axes_and_legend() -> None:
    lines = await rendered(Series("samples/s", [(1, 10.0), (16, 40.0)], "●", "primary", joined=True),
                           Series("GB", [(1, 3.0), (16, 1.5)], "■", "secondary", axis="right"))
    legend, *grid, axis, ticks = lines
    assert legend.startswith("● samples/s   ■ GB (right)   x: batch")
    assert len(grid) == 12 - 3  # legend, x axis and x labels take three rows
    # 40 cells: "40 │" on the left, up to " 1.5" on the right, 32 plot columns between
    left, last = 4, 4 + 31
    assert grid[0][:left] == "40 │" and grid[0][last + 1:] == " 3"
    assert grid[4][:left] == "20 │" and grid[4][last + 1:] == " 1.5"
    assert grid[-1][:left] == " 0 │" and grid[-1][last + 1:] == " 0"
    assert grid[0][last] == "●" and grid[6][left] == "●"  # 40 at the top, 10 a quarter of the way up
    assert grid[0][left] == "■" and grid[4][last] == "■"  # the right axis runs 0..3
    assert "·" in grid[3]  # the joined series, between its points
    assert axis == " " * 3 + "└" + "─" * 32
    assert ticks.split() == ["1", "4", "16"]
    assert all(len(line) <= 40 for line in lines)


async def test_guides_and_log_scale() -> None:
    lines = await rendered(Series("cost", [(1, 1.0), (100, 100.0)], "◆", "primary"),
                           guides=(Guide("deadline", "x", 10), Guide("budget", "y", 10)), size=(41, 13))
    legend, *grid, _axis, ticks = lines
    assert "┊ deadline" in legend and "┄ budget" in legend
    column = grid[0].index("┊")
    assert all(row[column] in "┊┄" for row in grid)
    assert any(set(row[row.index("│") + 1:].strip()) <= {"┄", "┊"} and "┄" in row for row in grid)
    assert ticks.split() == ["1", "10", "100"]  # the middle of a log axis is the geometric mean


async def test_an_empty_plot_says_so() -> None:
    assert await rendered(Series("x", [], "·", "muted")) == ["no data yet"]

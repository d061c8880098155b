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
    legend, *grid, axis, ticks, x_title = lines
    assert legend == "● samples/s   ■ GB (right)"
    assert x_title.strip() == "batch (log scale)"
    assert len(grid) == 12 - 4  # legend, x axis, x labels and the x title take four rows
    # 40 cells: "40 ┤" on the left (a tick), up to " 3" on the right, 34 plot columns between
    left = 4
    assert grid[0][:left] == "40 ┤" and grid[2].endswith(" 2")
    assert grid[-1][:left] == " 0 ┤" and grid[-1].endswith(" 0")
    ticked = [row[:left] for row in grid if row[left - 1] == "┤"]
    assert [t.strip(" ┤") for t in ticked] == ["40", "20", "0"]  # round values, 1-2-5 steps
    last = grid[0].rindex("●")
    assert grid[0][last] == "●" and "●" in grid[5]  # 40 at the top, 10 a quarter of the way up
    assert grid[0][left] == "■"  # the right axis runs 0..3
    assert "·" in grid[3]  # the joined series, between its points
    assert axis.startswith(" " * 3 + "└─")
    assert ticks.split() == ["1", "3", "10"]
    assert all(len(line) <= 40 for line in lines)


async def test_guides_and_log_scale() -> None:
    lines = await rendered(Series("cost", [(1, 1.0), (100, 100.0)], "◆", "primary"),
                           guides=(Guide("deadline", "x", 10), Guide("budget", "y", 10)), size=(41, 13))
    legend, *grid, _axis, ticks, _x_title = lines
    assert "┊ deadline" in legend and "┄ budget" in legend
    column = grid[0].index("┊")
    assert all(row[column] in "┊┄" for row in grid)
    assert any(set(row.replace("┤", "│")[row.replace("┤", "│").index("│") + 1:].strip()) <= {"┄", "┊"} and "┄" in row for row in grid)
    assert ticks.split() == ["1", "10", "100"]  # decades on a log axis


async def test_an_empty_plot_says_so() -> None:
    assert await rendered(Series("x", [], "·", "muted")) == ["no data yet"]

"""Quotes screen: filter the catalog's offers; every price shows its age."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from tui_fixtures import AppFactory

from tui.screens.quotes import QuoteGrid, QuotesScreen


def rows(pilot: Pilot) -> list[list[str]]:
    table = pilot.app.screen.query_one("#quote-table", QuoteGrid)
    return [list(table.cells(i)[0]) for i in range(table.row_count)]


def status(pilot: Pilot) -> str:
    return str(pilot.app.screen.query_one("#quote-status", Static).content)


async def open_quotes(pilot: Pilot) -> None:
    await pilot.press("f4")
    await pilot.pause()
    assert isinstance(pilot.app.screen, QuotesScreen)


async def test_every_offer_with_its_price_age(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(120, 30)) as pilot:
        await open_quotes(pilot)
        shown = rows(pilot)
        assert len(shown) == 7
        assert shown[0] == ["aws", "g4dn.xlarge", "1×T4-16GB", "0.20", "0.20", "50 d", "spot", "us-east-1",
                            "2026-10-01"]
        assert [(r[5], r[8]) for r in shown if r[0] == "gcp"] == [("6 mo stale", "2026-05-01")]
        assert all(r[5] == "50 d" for r in shown if r[0] != "gcp")
        assert status(pilot).startswith("7 of 7 offers; test as of 2026-05-01 (6 mo old)")


async def test_filters_narrow_the_offers(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(120, 30)) as pilot:
        await open_quotes(pilot)
        screen = pilot.app.screen
        screen.query_one("#quote-provider", Select).value = "aws"
        await pilot.pause()
        assert {r[0] for r in rows(pilot)} == {"aws"} and len(rows(pilot)) == 4
        screen.query_one("#quote-gpu", Input).value = "h100"
        await pilot.pause()
        assert [(r[1], r[6]) for r in rows(pilot)] == [("p5.48xlarge", "spot"), ("p5.48xlarge", "on-demand")]
        screen.query_one("#quote-provider", Select).value = "all"
        screen.query_one("#quote-max-price", Input).value = "10"
        await pilot.pause()
        assert [(r[0], r[1]) for r in rows(pilot)] == [("lambda", "gpu_1x_h100_sxm5")]
        screen.query_one("#quote-gpu", Input).value = ""
        screen.query_one("#quote-market", Select).value = "on-demand"
        await pilot.pause()
        prices = [float(r[3]) for r in rows(pilot)]
        assert prices == sorted(prices) and all(p <= 10 for p in prices) and len(prices) == 3


async def test_bad_filters_say_why_in_one_line(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(120, 30)) as pilot:
        await open_quotes(pilot)
        screen = pilot.app.screen
        screen.query_one("#quote-max-price", Input).value = "cheap"
        await pilot.pause()
        assert status(pilot) == "max $/h: not a number"
        assert screen.query_one("#quote-max-price", Input).has_class("-invalid")
        screen.query_one("#quote-max-price", Input).value = ""
        screen.query_one("#quote-gpu", Input).value = "tpu"
        await pilot.pause()
        assert status(pilot).startswith("no GPU matches 'tpu'; available: A100-SXM-40GB, H100-SXM-80GB, T4-16GB")
        assert rows(pilot) == []  # never a listing the filter above does not describe


async def test_sorting_by_column_and_region_prefix(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(120, 30)) as pilot:
        await open_quotes(pilot)
        grid = pilot.app.screen.query_one(QuoteGrid)
        assert pilot.app.focused is grid
        await pilot.press("g")  # GPUs: by count
        counts = [int(r[2].split("×")[0]) for r in rows(pilot)]
        assert counts == sorted(counts) and grid.sort_key == "gpus"
        await pilot.press("g")
        assert [int(r[2].split("×")[0]) for r in rows(pilot)] == sorted(counts, reverse=True)
        await pilot.click(QuoteGrid, offset=(1, 0))  # the Provider header
        await pilot.pause()
        assert [r[0] for r in rows(pilot)] == sorted(r[0] for r in rows(pilot)) and grid.sort_key == "provider"
        assert grid.cursor == 0 and grid.scroll_offset.y == 0
        await pilot.press("slash")
        assert pilot.app.focused is pilot.app.screen.query_one("#quote-gpu", Input)
        pilot.app.screen.query_one("#quote-region", Input).value = "us-"
        await pilot.pause()
        assert {r[7] for r in rows(pilot)} == {"us-east-1", "us-central1"}

"""Quotes screen: filter the catalog's offers; every price shows its age."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from tui.screens.quotes import QuotesScreen
from tui_fixtures import AppFactory


def rows(pilot: Pilot) -> list[list[str]]:
    table = pilot.app.screen.query_one("#quote-table", DataTable)
    return [[str(cell).strip() for cell in table.get_row_at(i)] for i in range(table.row_count)]


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
        assert len(rows(pilot)) == 7  # the last good listing stays

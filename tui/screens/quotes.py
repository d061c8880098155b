"""Quotes: browse the catalog's offers, filter them, and see how old each price is."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static

from providers.errors import QuoteFilterError
from providers.quotes import QuoteFilter, find_quotes
from providers.schema import Catalog
from tui.price_age import age_text, is_stale
from tui.screens.base import BatchfitScreen
from tui.request_form import FieldError, positive_float

ALL = "all"
# Price and age come before market and region, so an 80-column terminal shows them without scrolling.
QUOTE_COLUMNS = ("Provider", "Instance", "GPUs", "$/h", "$/GPU·h", "Age", "Market", "Region", "As of")
NUMERIC = {"$/h", "$/GPU·h"}


def quote_filter(provider: str, gpu: str, market: str, region: str, max_price: str) -> QuoteFilter:
    """The filter the inputs describe; raises FieldError for a price that is not a number above 0."""
    return QuoteFilter(
        providers=(provider,) if provider != ALL else None,
        gpu=gpu.strip() or None,
        market=market if market != ALL else None,  # type: ignore[arg-type]
        region=region.strip() or None,
        max_price_per_hour=positive_float(max_price) if max_price.strip() else None,
    )


class QuotesScreen(BatchfitScreen):
    def __init__(self) -> None:
        super().__init__(id="quotes")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="quote-filters"):
            yield Select([("all providers", ALL)], allow_blank=False, compact=True, id="quote-provider")
            yield Input(placeholder="GPU (h100, ampere)", compact=True, id="quote-gpu")
            yield Select([("all markets", ALL), ("on-demand", "on-demand"), ("spot", "spot")], allow_blank=False,
                         compact=True, id="quote-market")
            yield Input(placeholder="region", compact=True, id="quote-region")
            yield Label("max $/h", classes="limit-label")
            yield Input(placeholder="any", compact=True, id="quote-max-price")
        yield Static("", id="quote-status", markup=False)
        yield DataTable(id="quote-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Quotes"
        for title in QUOTE_COLUMNS:
            self.query_one(DataTable).add_column(Text(f" {title}", justify="right" if title in NUMERIC else "left"))
        self.watch(self.app, "catalog", self._show_catalog)

    def _show_catalog(self, catalog: Catalog | None) -> None:
        if catalog is None:
            self.query_one("#quote-status", Static).update("loading prices")
            return
        providers = sorted({o.provider for o in catalog.offers})
        select = self.query_one("#quote-provider", Select)
        with self.prevent(Select.Changed):
            select.set_options([("all providers", ALL), *((p, p) for p in providers)])
            select.value = ALL
        self.refilter()

    @on(Input.Changed)
    @on(Select.Changed)
    def refilter(self) -> None:
        catalog = self.state.catalog
        if catalog is None:
            return
        status = self.query_one("#quote-status", Static)
        table = self.query_one(DataTable)
        price_input = self.query_one("#quote-max-price", Input)
        try:
            flt = quote_filter(str(self.query_one("#quote-provider", Select).value),
                               self.query_one("#quote-gpu", Input).value,
                               str(self.query_one("#quote-market", Select).value),
                               self.query_one("#quote-region", Input).value, price_input.value)
            price_input.remove_class("-invalid")
            quotes = find_quotes(catalog, flt, today=self.state.today())
        except FieldError as exc:
            price_input.add_class("-invalid")
            status.update(f"max $/h: {exc}")
            return
        except QuoteFilterError as exc:
            status.update(str(exc))
            return
        table.clear()
        for q in quotes:
            o = q.offer
            stale = is_stale(q.price_age_days)
            age = age_text(q.price_age_days) + (" stale" if stale else "")
            table.add_row(*(Text(f" {text}", justify="right" if title in NUMERIC else "left",
                                 style="italic" if title == "Age" and stale else "")
                            for title, text in zip(QUOTE_COLUMNS, (
                                o.provider, o.instance, f"{o.gpu_count}×{o.gpu}", f"{o.price_per_hour:,.2f}",
                                f"{q.usd_per_gpu_hour:,.2f}", age, o.market, o.region, str(o.as_of)))))
        status.update(self._summary(catalog, len(quotes), self.state.today()))

    @staticmethod
    def _summary(catalog: Catalog, shown: int, today: dt.date) -> str:
        tables = ", ".join(f"{t.name} as of {t.as_of} ({age_text((today - t.as_of).days)} old)"
                           for t in catalog.tables)
        text = f"{shown} of {len(catalog.offers)} offers; {tables}"
        if catalog.warnings:
            text += f"; {len(catalog.warnings)} warning{'s' if len(catalog.warnings) != 1 else ''}: "
            text += catalog.warnings[0]
        return text

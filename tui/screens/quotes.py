"""Quotes: browse the catalog's offers, filter them, and see how old each price is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Label, Select, Static

from providers.errors import QuoteFilterError
from providers.quotes import Quote, QuoteFilter, find_quotes
from providers.schema import Catalog
from tui.price_age import age_text, is_stale
from tui.request_form import FieldError, positive_float
from tui.screens.base import BatchfitScreen
from tui.widgets.grid import Grid, GridColumn

ALL = "all"
QuoteCell = Callable[[Quote], str]
QuoteKey = Callable[[Quote], float | str]
# At 80 columns Age and As of give way to the region; the status line above says how old each table is.
QUOTE_COLUMNS: tuple[tuple[GridColumn, QuoteCell, QuoteKey], ...] = (
    (GridColumn("provider", "Provider", 8, sort_letter="p"), lambda q: q.offer.provider, lambda q: q.offer.provider),
    (GridColumn("instance", "Instance", 16, flexible=True, sort_letter="i"), lambda q: q.offer.instance,
     lambda q: q.offer.instance),
    (GridColumn("gpus", "GPUs", 16, sort_letter="g"), lambda q: f"{q.offer.gpu_count}×{q.offer.gpu}",
     lambda q: q.offer.gpu_count),
    (GridColumn("price", "$/h", 6, numeric=True, sort_letter="h"), lambda q: f"{q.offer.price_per_hour:,.2f}",
     lambda q: q.offer.price_per_hour),
    (GridColumn("gpu_price", "$/GPU·h", 7, numeric=True, sort_letter="u"), lambda q: f"{q.usd_per_gpu_hour:,.2f}",
     lambda q: q.usd_per_gpu_hour),
    (GridColumn("age", "Age", 10, sort_letter="a", droppable=True),
     lambda q: age_text(q.price_age_days) + (" stale" if is_stale(q.price_age_days) else ""),
     lambda q: q.price_age_days),
    (GridColumn("market", "Market", 9, sort_letter="m"), lambda q: q.offer.market, lambda q: q.offer.market),
    (GridColumn("region", "Region", 14, sort_letter="r"), lambda q: q.offer.region, lambda q: q.offer.region),
    (GridColumn("as_of", "As of", 10, sort_letter="o", droppable=True), lambda q: str(q.offer.as_of), lambda q: str(q.offer.as_of)),
)
QUOTE_KEYS = {column.key: key for column, _cell, key in QUOTE_COLUMNS}


def quote_filter(provider: str, gpu: str, market: str, region: str, max_price: str) -> QuoteFilter:
    """The filter the inputs describe; raises FieldError for a price that is not a number above 0."""
    return QuoteFilter(
        providers=(provider,) if provider != ALL else None,
        gpu=gpu.strip() or None,
        market=market if market != ALL else None,  # type: ignore[arg-type]
        region=region.strip() or None,
        max_price_per_hour=positive_float(max_price) if max_price.strip() else None,
    )


class QuoteGrid(Grid):
    """The offers; a column's letter or a click on its header sorts by it, again reverses."""

    BINDINGS = [Binding(column.sort_letter, f"sort('{column.key}')", f"Sort by {column.title}", show=False)
                for column, _cell, _key in QUOTE_COLUMNS]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__([column for column, _cell, _key in QUOTE_COLUMNS], id=id)
        self.quotes: list[Quote] = []
        self.sort_key, self.reverse = "price", False

    def show(self, quotes: list[Quote], empty_text: str = "") -> None:
        """`quotes` in the price order find_quotes gives; sorted here by the chosen column (stable)."""
        self.quotes = sorted(quotes, key=QUOTE_KEYS[self.sort_key], reverse=self.reverse)
        self.set_rows(len(self.quotes), self._cells, sort_key=self.sort_key, reverse=self.reverse,
                      empty_text=empty_text)

    def _cells(self, index: int) -> tuple[list[str], str]:
        q = self.quotes[index]
        return [cell(q) for _column, cell, _key in QUOTE_COLUMNS], "muted" if is_stale(q.price_age_days) else ""

    def action_sort(self, key: str) -> None:
        self.reverse = not self.reverse if key == self.sort_key else False
        self.sort_key = key
        self.show(self.quotes)

    @on(Grid.HeaderClicked)
    def _header_clicked(self, event: Grid.HeaderClicked) -> None:
        event.stop()
        self.action_sort(event.key)


class QuotesScreen(BatchfitScreen):
    AUTO_FOCUS = "#quote-table"
    BINDINGS = [Binding("slash", "focus_filter", "Filter", show=False)]

    def __init__(self) -> None:
        super().__init__(id="quotes")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="quote-filters"):
            yield Select([("all providers", ALL)], allow_blank=False, compact=True, id="quote-provider")
            yield Input(placeholder="GPU (h100, ampere)", compact=True, id="quote-gpu")
            yield Select([("all markets", ALL), ("on-demand", "on-demand"), ("spot", "spot")], allow_blank=False,
                         compact=True, id="quote-market")
            yield Input(placeholder="region (start)", compact=True, id="quote-region")
            yield Label("max $/h", classes="limit-label")
            yield Input(placeholder="any", compact=True, id="quote-max-price")
        yield Static("", id="quote-status", markup=False)
        yield QuoteGrid(id="quote-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Quotes"
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
        table = self.query_one(QuoteGrid)
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
            table.show([], "no offers: the filter above is not valid")
            return
        except QuoteFilterError as exc:
            status.update(str(exc))
            table.show([], "no offers: the filter above is not valid")
            return
        table.show(quotes, "no offer matches the filter")
        status.update(self._summary(catalog, len(quotes), self.state.today()))

    def action_focus_filter(self) -> None:
        self.query_one("#quote-gpu", Input).focus()

    @staticmethod
    def _summary(catalog: Catalog, shown: int, today: dt.date) -> str:
        tables = ", ".join(f"{t.name} as of {t.as_of} ({age_text((today - t.as_of).days)} old)"
                           for t in catalog.tables)
        text = f"{shown} of {len(catalog.offers)} offers; {tables}"
        if catalog.warnings:
            text += f"; {len(catalog.warnings)} warning{'s' if len(catalog.warnings) != 1 else ''}: "
            text += catalog.warnings[0]
        return text

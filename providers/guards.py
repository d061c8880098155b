"""Checks that need the whole merged catalog rather than one row: spot priced like on-demand, stale tables."""

from __future__ import annotations

import datetime as dt

from providers.schema import Offer, PriceTable


def drop_spot_equal_to_on_demand(offers: list[Offer]) -> tuple[list[Offer], list[str]]:
    """Catalogs fill the spot column with the on-demand price where no spot market exists; drop such rows."""
    on_demand = {(o.provider, o.instance, o.region): o.price_per_hour for o in offers if o.market == "on-demand"}
    kept: list[Offer] = []
    warnings: list[str] = []
    for offer in offers:
        od = on_demand.get((offer.provider, offer.instance, offer.region))
        if offer.market == "spot" and od is not None and abs(offer.price_per_hour - od) <= 1e-9 * max(od, 1.0):
            warnings.append(
                f"{offer.provider} {offer.instance} {offer.region}: spot price equals on-demand ({od:g}), "
                "so no spot market is listed there; spot row dropped"
            )
            continue
        kept.append(offer)
    return kept, warnings


def stale_warning(table: PriceTable, today: dt.date, stale_after_days: int) -> str | None:
    """A table is as fresh as its stalest price in use; warn past the manifest's threshold."""
    age = (today - table.as_of).days
    if age <= stale_after_days:
        return None
    return (
        f"{table.path}: oldest price in use is from {table.as_of} ({age} days old, over {stale_after_days}); "
        "refresh with `batchfit quotes --refresh all` or update the table (see pricing/README.md)"
    )

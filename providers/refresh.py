"""What a live refresh returns, and the helper every refresher shares to store its result."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from providers.cache import CachedTable, write_table
from providers.schema import Offer, Origin


class RefreshReport(BaseModel):
    """The outcome of one refresh: how many offers were stored where, and any warnings (never a traceback)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    offers: int = 0
    path: str | None = Field(default=None, description="cache file written; None when nothing was written")
    warnings: list[str] = Field(default_factory=list)


def store(source: str, origin: Origin, offers: list[Offer], fetched_at: dt.datetime) -> RefreshReport:
    """Write the refreshed table atomically; an unusable cache directory becomes a warning."""
    if not offers:
        return RefreshReport(source=source, warnings=[f"{source} refresh returned no prices; kept the previous ones"])
    table = CachedTable(name=source, origin=origin, fetched_at=fetched_at, offers=offers)
    try:
        path = write_table(table)
    except OSError as exc:
        return RefreshReport(
            source=source,
            warnings=[f"{source} refresh: cannot write the cache ({exc.strerror}); set BATCHFIT_CACHE_DIR to a writable folder"],
        )
    return RefreshReport(source=source, offers=len(offers), path=str(path))


def targets_for(offers: list[Offer], provider: str) -> dict[tuple[str, str], Offer]:
    """(instance, region) pairs to refresh for a provider, each with an offer to copy GPU facts from."""
    found: dict[tuple[str, str], Offer] = {}
    for offer in offers:
        if offer.provider != provider:
            continue
        pair = (offer.instance, offer.region)
        if pair not in found or offer.market == "on-demand":
            found[pair] = offer
    return found

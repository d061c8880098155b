"""`batchfit quotes --refresh gpuhunt`: dstack's gpuhunt catalog, a public daily price collection.

gpuhunt (optional: `pip install 'batchfit[gpuhunt]'`) publishes one catalog per provider; the
"offline" providers are read from its public bucket and need no account or credentials, so only
those are asked for (`PROVIDERS`). Each item becomes an offer: GPU names go through our tables
(`providers.gpu_names`; names we lack are reported and skipped), `as_of` is the date in the
provider catalog's version string (`20261120-7` -> 2026-11-20), duplicates of one offer keep the
highest price so a quote never understates, and every row passes the shared row guards.

gpuhunt logs a provider whose catalog fails to load and carries on with the others. Its log is
captured here (so no traceback reaches the terminal), and a provider that came back empty is named
in the report: its previous (bundled or cached) prices stay in force. `GPUHUNT_CATALOG_URL`
points gpuhunt at another copy of its bucket, which is how the tests replay a recorded one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from providers.pricing_context import PricingContext, load_context
from providers.refresh import RefreshReport, store
from providers.row_guards import keep_guarded
from providers.schema import Offer

NAME = "gpuhunt"
ORIGIN = "gpuhunt"
# gpuhunt provider name -> ours, for the providers its public catalog covers without credentials.
PROVIDERS = {
    "aws": "aws", "azure": "azure", "gcp": "gcp", "lambdalabs": "lambda", "nebius": "nebius",
    "runpod": "runpod", "oci": "oci", "verda": "verda", "cloudrift": "cloudrift",
}
VERSION_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")
# gpuhunt's downloads set no timeout; a stalled connection would hang the refresh forever.
TIMEOUT_S = 30.0
KEPT = "its previous (bundled or cached) prices are kept"

CatalogFactory = Callable[[], Any]


def refresh_gpuhunt(
    catalog_offers: list[Offer],
    *,
    catalog_factory: CatalogFactory | None = None,
    context: PricingContext | None = None,
    providers: dict[str, str] | None = None,
    now: dt.datetime | None = None,
    timeout_s: float = TIMEOUT_S,
) -> RefreshReport:
    """Load gpuhunt's catalog, turn its GPU items into offers and cache them; never raises for a failed fetch."""
    del catalog_offers  # gpuhunt's catalog is taken whole, not looked up offer by offer
    now = now or dt.datetime.now(dt.timezone.utc)
    wanted = providers or PROVIDERS
    if catalog_factory is None:
        try:
            import gpuhunt  # type: ignore[import-untyped]
        except ImportError:
            return RefreshReport(source=NAME, warnings=[
                "gpuhunt refresh skipped: gpuhunt is not installed (pip install 'batchfit[gpuhunt]')"
            ])
        catalog_factory = lambda: gpuhunt.Catalog(balance_resources=False, auto_reload=False)  # noqa: E731
    ctx = context or load_context()
    with _captured_log() as log, _socket_timeout(timeout_s):
        try:
            catalog = catalog_factory()
            catalog.load()
        except Exception as exc:  # gpuhunt raises its own error types, urllib's, or ValueError
            return RefreshReport(source=NAME, warnings=[f"gpuhunt refresh failed: cannot load its catalog ({exc}); {KEPT}"])
        offers, notes, missing = _collect(catalog, wanted, ctx)
    if missing:
        why = f" (gpuhunt said: {'; '.join(sorted(set(log)))})" if log else ""
        notes.append(f"gpuhunt: no prices came back for {', '.join(missing)}{why}; for those providers {KEPT}")
    kept, dropped = keep_guarded(offers, ctx.gpus, ctx.rules, "gpuhunt")
    report = store(NAME, ORIGIN, kept, now)
    report.warnings = notes + dropped + report.warnings
    return report


def _collect(catalog: Any, wanted: dict[str, str], ctx: PricingContext) -> tuple[list[Offer], list[str], list[str]]:
    best: dict[tuple[str, str, str, str], Offer] = {}
    notes: list[str] = []
    missing: list[str] = []
    unknown: dict[str, int] = {}
    for theirs, ours in wanted.items():
        try:
            items = catalog.query(provider=theirs)
        except ValueError as exc:  # this gpuhunt version does not know the provider
            notes.append(f"gpuhunt: {exc}; skipped")
            continue
        if not items:
            missing.append(theirs)
            continue
        version = catalog_version(catalog, theirs)
        as_of = version_date(version)
        if as_of is None:
            notes.append(f"gpuhunt: {theirs} catalog version {version!r} carries no date; skipped (as_of unknown)")
            continue
        for item in items:
            offer = _offer(item, ours, ctx, f"gpuhunt catalog {theirs} {version}", as_of, unknown)
            if offer is not None and (offer.key not in best or offer.price_per_hour > best[offer.key].price_per_hour):
                best[offer.key] = offer
    if unknown:
        names = ", ".join(f"{n} ({c})" for n, c in sorted(unknown.items()))
        notes.append(f"gpuhunt: skipped GPUs not in our tables: {names}; add them to pricing/gpu_aliases.csv and pricing/gpus.csv")
    return list(best.values()), notes, missing


def _offer(item: Any, provider: str, ctx: PricingContext, source: str, as_of: dt.date, unknown: dict[str, int]) -> Offer | None:
    if not item.gpu_count or not item.gpu_name or item.price is None:
        return None  # CPU-only machine
    gpu = ctx.namer.resolve(provider, item.instance_name, item.gpu_name, item.gpu_memory)
    if gpu is None:
        unknown[item.gpu_name] = unknown.get(item.gpu_name, 0) + 1
        return None
    if float(item.price) <= 0:
        return None  # the guards would drop it; an Offer cannot even hold a zero price
    return Offer(
        provider=provider, instance=item.instance_name, region=item.location,
        market="spot" if item.spot else "on-demand", gpu=gpu, gpu_count=int(item.gpu_count),
        price_per_hour=float(item.price), vcpus=int(item.cpu) if item.cpu and item.cpu >= 1 else None,
        ram_gb=float(item.memory) if item.memory and item.memory > 0 else None,
        source=source, as_of=as_of, origin=ORIGIN,
    )


def catalog_version(catalog: Any, provider: str) -> str:
    """The version string of one provider's loaded catalog (gpuhunt >= 0.1.30 keeps one per provider)."""
    loaded = getattr(catalog, "catalog", {}).get(provider)
    return str(getattr(loaded, "version", "")) if loaded is not None else ""


def version_date(version: str) -> dt.date | None:
    match = VERSION_DATE.match(version)
    if match is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """A default socket timeout while gpuhunt downloads (it passes none to urllib)."""
    saved = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(saved)


@contextmanager
def _captured_log() -> Iterator[list[str]]:
    """gpuhunt's log lines (one per failed provider) as plain messages, kept off the terminal."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())

    logger = logging.getLogger("gpuhunt")
    handler = Collect()
    saved = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = saved

"""`batchfit quotes --refresh skypilot`: the user's own SkyPilot catalog, `~/.sky/catalogs/v8/*/vms.csv`.

SkyPilot downloads these files from its catalog repository and re-fetches them now and then. A
file's modification time is when SkyPilot last *tried* to fetch it, not the date its prices were
collected, so each offer's `as_of` is that time's date and the report says what it means. The
files are read by header name and through the same conversion and row guards as the bundled rows
(`providers.skypilot`); clouds batchfit has no GPU names for are skipped with a note.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from providers.errors import CatalogError
from providers.pricing_context import PricingContext, load_context
from providers.refresh import RefreshReport, store
from providers.schema import Offer
from providers.skypilot import offers_from_vms, read_vms

NAME = "skypilot"
ORIGIN = "skypilot"
CATALOG_VERSION = "v8"


def default_root() -> Path:
    return Path.home() / ".sky" / "catalogs" / CATALOG_VERSION


def refresh_skypilot(
    catalog_offers: list[Offer],
    *,
    root: Path | None = None,
    context: PricingContext | None = None,
    now: dt.datetime | None = None,
) -> RefreshReport:
    """Read every `<cloud>/vms.csv` under `root` and cache their GPU offers; `catalog_offers` is unused
    (a local catalog is taken whole: it lists what the user's SkyPilot would launch)."""
    del catalog_offers
    now = now or dt.datetime.now(dt.timezone.utc)
    root = root or default_root()
    files = sorted(root.glob("*/vms.csv"))
    if not files:
        return RefreshReport(source=NAME, warnings=[
            f"skypilot refresh: no {root}/*/vms.csv found; run `sky show-gpus` once so SkyPilot fetches its catalog"
        ])
    ctx = context or load_context()
    offers: list[Offer] = []
    notes: list[str] = []
    for path in files:
        cloud = path.parent.name.lower()
        attempted = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
        source = f"SkyPilot catalog {path} (file time {attempted:%Y-%m-%d %H:%M} UTC = SkyPilot's last fetch attempt)"
        try:
            conversion = offers_from_vms(read_vms(path, str(path)), cloud, ctx, source=source,
                                         as_of=attempted.date(), origin=ORIGIN)
        except CatalogError as exc:
            notes.append(f"skypilot refresh: {exc}; file skipped")
            continue
        offers += conversion.offers
        notes += conversion.warnings
        notes.append(f"skypilot: {path}: {len(conversion.offers)} GPU offers, as_of {attempted.date()} "
                     "(the file's time is SkyPilot's last fetch attempt, not the date its prices were collected)")
    report = store(NAME, ORIGIN, offers, now)
    report.warnings = notes + report.warnings
    return report

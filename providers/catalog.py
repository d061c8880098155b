"""`load_catalog`: the bundled tables, then refreshed tables from the cache, then the user's own CSV.

Merge order and who wins for the same `Offer.key` (provider, instance, region, market):
1. bundled `pricing/offers.csv`;
2. cached refreshed tables (`providers.cache`), oldest fetch first; a cached row replaces an earlier
   row unless that row is dated later than it;
3. the user's CSV (reserved, negotiated, on-premises prices), which always wins.
Then spot rows priced exactly like on-demand are dropped, and every table whose oldest price in use
is older than the manifest's threshold adds a warning.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from providers.cache import CachedTable, read_tables, table_path
from providers.fabric import read_fabrics
from providers.gpus import read_families, read_gpus
from providers.guards import drop_spot_equal_to_on_demand, stale_warning
from providers.offers_csv import OfferTable, read_offers
from providers.registry import refreshed_origins
from providers.row_guards import keep_guarded
from providers.rules import Manifest, Rules, load_manifest
from providers.rules import pricing_dir as bundled_pricing_dir
from providers.schema import Catalog, Fabric, GpuSpec, Offer, PriceTable


def load_gpu_specs(pricing_dir: Path | None = None) -> dict[str, GpuSpec]:
    """The GPU spec table alone: what the probe needs to know its own device's ceilings."""
    folder = pricing_dir or bundled_pricing_dir()
    gpus_file = load_manifest(folder).table_file("gpus")
    label = "pricing" if pricing_dir is None else str(folder)
    return read_gpus(folder / gpus_file, f"{label}/{gpus_file}")


def load_catalog(
    *,
    user_csv: Path | None = None,
    use_cache: bool = True,
    today: dt.date | None = None,
    pricing_dir: Path | None = None,
) -> Catalog:
    """Merge every price source into one Catalog; raises CatalogError on a malformed table.

    `pricing_dir` points at another folder laid out like `pricing/` (default: the bundled one).
    """
    today = today or dt.date.today()
    folder = pricing_dir or bundled_pricing_dir()
    label = "pricing" if pricing_dir is None else str(folder)
    manifest = load_manifest(folder)
    gpus_file = manifest.table_file("gpus")
    gpus = read_gpus(folder / gpus_file, f"{label}/{gpus_file}")
    families_file = manifest.table_file("families")
    families = read_families(folder / families_file, f"{label}/{families_file}", gpus)
    fabric_file = manifest.table_file("fabric")
    fabrics = read_fabrics(folder / fabric_file, f"{label}/{fabric_file}")

    def read(path: Path, display: str, name: str, origin: str) -> OfferTable:
        # Only the user's own rows are held to today's date: bundled data must load on any clock.
        return read_offers(
            path, display, name=name, origin=origin,  # type: ignore[arg-type]
            gpus=gpus, families=families, rules=manifest.rules, latest=today if origin == "user" else None,
        )

    offers_file = manifest.table_file("offers")
    layers = [read(folder / offers_file, f"{label}/{offers_file}", "offers", "bundled")]
    warnings: list[str] = []
    if use_cache:
        cached, cache_notes = read_tables()
        warnings += cache_notes
        layers += [_cache_layer(t, gpus, manifest.rules) for t in cached]
    if user_csv is not None:
        layers.append(read(user_csv, str(user_csv), "user", "user"))
    for layer in layers:
        warnings += layer.warnings
    return _merge(layers, gpus, manifest, today, warnings, fabrics)


def _cache_layer(table: CachedTable, gpus: dict[str, GpuSpec], rules: Rules) -> OfferTable:
    """A cached table as a layer, through the same row guards as the bundled and user tables."""
    path = str(table_path(table.name))
    usable, notes = keep_guarded(table.offers, gpus, rules, path)
    return OfferTable(name=table.name, origin=table.origin, path=path, offers=usable, warnings=notes)


def _merge(
    layers: list[OfferTable], gpus: dict[str, GpuSpec], manifest: Manifest, today: dt.date, warnings: list[str],
    fabrics: list[Fabric],
) -> Catalog:
    merged: dict[tuple[str, str, str, str], Offer] = {}
    owner: dict[tuple[str, str, str, str], int] = {}
    for index, layer in enumerate(layers):
        for offer in layer.offers:
            earlier = merged.get(offer.key)
            if layer.origin in refreshed_origins() and earlier is not None and earlier.as_of > offer.as_of:
                continue
            merged[offer.key] = offer
            owner[offer.key] = index
    offers, spot_notes = drop_spot_equal_to_on_demand(list(merged.values()))
    warnings += spot_notes
    tables: list[PriceTable] = []
    for index, layer in enumerate(layers):
        used = [o for o in offers if owner[o.key] == index]
        if not used:
            continue
        table = PriceTable(
            name=layer.name, origin=layer.origin, path=layer.path,
            as_of=min(o.as_of for o in used), rows=len(used),
        )
        tables.append(table)
        note = stale_warning(table, today, manifest.rules.stale_after_days)
        if note:
            warnings.append(note)
    offers.sort(key=lambda o: (o.provider, o.instance, o.region, o.market))
    return Catalog(gpus=gpus, offers=offers, tables=tables, warnings=warnings, fabrics=fabrics)

"""load_catalog: merge order (bundled, then cache, then the user's CSV), staleness, broken bundled tables."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from providers.cache import CachedTable, write_table
from providers.catalog import load_catalog
from providers.errors import CatalogError
from providers.schema import Offer

TODAY = dt.date(2026, 11, 26)
HEADER = "provider,instance,region,market,gpu,gpu_count,price_per_hour,source,as_of"


def find(catalog, instance: str, region: str, market: str = "on-demand") -> Offer:
    (offer,) = [o for o in catalog.offers if (o.instance, o.region, o.market) == (instance, region, market)]
    return offer


def cached(offer: Offer, price: float, as_of: dt.date, origin: str = "aws-api") -> CachedTable:
    fresh = offer.model_copy(update={"price_per_hour": price, "as_of": as_of, "origin": origin, "source": "api"})
    return CachedTable(name="aws", origin=origin, fetched_at=dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
                       offers=[fresh])


def test_the_user_csv_replaces_a_bundled_offer_and_adds_new_ones(write_csv: Callable[..., Path]) -> None:
    path = write_csv([HEADER, "aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,31.5,3-year reservation,2026-11-20",
                      "onprem,dgx-a100,lab,on-demand,A100-SXM-80GB,8,9.0,amortised over 4 years,2026-10-01"])
    catalog = load_catalog(user_csv=path, use_cache=False, today=TODAY)
    mine = find(catalog, "p5.48xlarge", "us-east-1")
    assert (mine.price_per_hour, mine.origin, mine.source) == (31.5, "user", "3-year reservation")
    assert find(catalog, "dgx-a100", "lab").provider == "onprem"
    assert [t.origin for t in catalog.tables] == ["bundled", "user"]
    assert catalog.tables[1].rows == 2


def test_a_newer_cached_price_replaces_the_bundled_one() -> None:
    bundled = find(load_catalog(use_cache=False, today=TODAY), "p5.48xlarge", "us-east-1")
    write_table(cached(bundled, 50.0, TODAY))
    catalog = load_catalog(today=TODAY)
    offer = find(catalog, "p5.48xlarge", "us-east-1")
    assert (offer.price_per_hour, offer.origin) == (50.0, "aws-api")
    assert any(t.origin == "aws-api" and t.rows == 1 and t.as_of == TODAY for t in catalog.tables)


def test_an_older_cached_price_does_not_replace_a_newer_bundled_one() -> None:
    bundled = find(load_catalog(use_cache=False, today=TODAY), "p5.48xlarge", "us-east-1")
    write_table(cached(bundled, 99.0, bundled.as_of - dt.timedelta(days=30)))
    offer = find(load_catalog(today=TODAY), "p5.48xlarge", "us-east-1")
    assert offer.price_per_hour == bundled.price_per_hour


def test_use_cache_false_ignores_the_cache() -> None:
    bundled = find(load_catalog(use_cache=False, today=TODAY), "p5.48xlarge", "us-east-1")
    write_table(cached(bundled, 50.0, TODAY))
    assert find(load_catalog(use_cache=False, today=TODAY), "p5.48xlarge", "us-east-1").price_per_hour == 55.04


def test_the_user_csv_wins_over_the_cache(write_csv: Callable[..., Path]) -> None:
    bundled = find(load_catalog(use_cache=False, today=TODAY), "p5.48xlarge", "us-east-1")
    write_table(cached(bundled, 50.0, TODAY))
    path = write_csv([HEADER, "aws,p5.48xlarge,us-east-1,on-demand,H100-SXM-80GB,8,31.5,mine,2026-11-01"])
    assert find(load_catalog(user_csv=path, today=TODAY), "p5.48xlarge", "us-east-1").price_per_hour == 31.5


def test_a_table_older_than_90_days_warns_and_a_fresh_one_does_not(write_csv: Callable[..., Path]) -> None:
    path = write_csv([HEADER, "onprem,dgx,lab,on-demand,A100-SXM-80GB,8,9.0,mine,2026-08-01"])
    fresh_day = dt.date(2026, 10, 30)
    warnings = load_catalog(user_csv=path, use_cache=False, today=fresh_day).warnings
    assert not any(str(path) in w for w in warnings)
    stale_day = dt.date(2026, 11, 1)
    warnings = load_catalog(user_csv=path, use_cache=False, today=stale_day).warnings
    assert any(w.startswith(f"{path}: oldest price in use is from 2026-08-01 (92 days old, over 90)") for w in warnings)


def test_the_bundled_table_warns_once_its_oldest_price_in_use_is_stale() -> None:
    catalog = load_catalog(use_cache=False, today=TODAY)
    oldest = min(o.as_of for o in catalog.offers)
    assert catalog.tables[0].as_of == oldest
    assert any(w.startswith("pricing/offers.csv: oldest price in use") for w in catalog.warnings)
    just_fresh = load_catalog(use_cache=False, today=oldest + dt.timedelta(days=90))
    assert not any(w.startswith("pricing/offers.csv: oldest price") for w in just_fresh.warnings)


def test_a_corrupt_cache_file_is_ignored_with_a_warning(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True)
    (cache_dir / "aws.json").write_text("{not json", encoding="utf-8")
    catalog = load_catalog(today=TODAY)
    assert any("aws.json: ignored cached prices" in w for w in catalog.warnings)
    assert find(catalog, "p5.48xlarge", "us-east-1").origin == "bundled"


def test_an_offer_naming_a_gpu_missing_from_the_spec_table(pricing_copy: Path, tmp_path: Path) -> None:
    """In the bundled table the row is dropped with a warning naming it; in the user's CSV it is an error."""
    offers = pricing_copy / "offers.csv"
    broken = offers.read_text(encoding="utf-8").replace(",T4-16GB,", ",T5-16GB,", 1)
    offers.write_text(broken, encoding="utf-8")
    catalog = load_catalog(use_cache=False, today=TODAY, pricing_dir=pricing_copy)
    assert any(re.search(r"offers\.csv line 2, field gpu: 'T5-16GB' is not in the GPU table.*row dropped", w)
               for w in catalog.warnings)
    mine = tmp_path / "mine.csv"
    mine.write_text("\n".join(broken.splitlines()[:2]) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"mine\.csv line 2, field gpu: 'T5-16GB' is not in the GPU table"):
        load_catalog(use_cache=False, today=TODAY, user_csv=mine)


def test_a_malformed_gpu_spec_names_its_line_and_field(pricing_copy: Path) -> None:
    gpus = pricing_copy / "gpus.csv"
    lines = gpus.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",1935,", ",fast,")
    gpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"gpus\.csv line 4, field bandwidth_gbs: 'fast' is not a number"):
        load_catalog(use_cache=False, today=TODAY, pricing_dir=pricing_copy)


def test_a_manifest_of_another_schema_version_is_refused(pricing_copy: Path) -> None:
    manifest = pricing_copy / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["schema_version"] = 99
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CatalogError, match="field schema_version: 99 but this batchfit reads 1"):
        load_catalog(use_cache=False, today=TODAY, pricing_dir=pricing_copy)

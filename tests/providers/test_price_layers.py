"""Every price layer goes through the same row guards, and the refresher registry drives the CLI and origins."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from planner.cli.quotes_cmd import REFRESH_CHOICES
from providers.cache import CachedTable, write_table
from providers.catalog import load_catalog
from providers.pricing_context import load_context
from providers.registry import REFRESHERS, all_origins, refresher_names
from providers.row_guards import offer_problem
from providers.schema import Offer
from providers.skypilot import offers_from_vms, read_vms

TODAY = dt.date(2026, 11, 26)
HEADER = "provider,instance,region,market,gpu,gpu_count,price_per_hour,source,as_of"
PLACEHOLDER = "onprem,box-700,lab,on-demand,H100-SXM-80GB,1,700.0,a catalog's 'not sold',2026-11-01"
ABSURD = "onprem,box-absurd,lab,on-demand,H100-SXM-80GB,1,250.0,typo,2026-11-01"


def offer(instance: str, price: float, gpu: str = "H100-SXM-80GB", origin: str = "aws-api") -> Offer:
    return Offer(provider="aws", instance=instance, region="us-east-1", market="on-demand", gpu=gpu, gpu_count=1,
                 price_per_hour=price, source="test", as_of=TODAY, origin=origin)


def dropped(warnings: list[str], instance: str) -> bool:
    return any(instance in w and "row dropped" in w for w in warnings)


def test_the_bundled_layer_drops_a_placeholder_row(pricing_copy: Path) -> None:
    with (pricing_copy / "offers.csv").open("a", encoding="utf-8") as handle:
        handle.write("onprem,box-700,lab,on-demand,H100-SXM-80GB,1,700.0,,,,,,,a catalog's 'not sold',2026-11-01\n")
    catalog = load_catalog(pricing_dir=pricing_copy, use_cache=False, today=TODAY)
    assert dropped(catalog.warnings, "box-700") and "box-700" not in {o.instance for o in catalog.offers}


def test_the_bundled_layer_drops_unknown_gpus_and_non_prices_naming_the_line(pricing_copy: Path) -> None:
    with (pricing_copy / "offers.csv").open("a", encoding="utf-8") as handle:
        handle.write("onprem,box-z9,lab,on-demand,Z9-1GB,1,3.0,,,,,,,a GPU gpus.csv lacks,2026-11-01\n")
        handle.write("onprem,box-neg,lab,on-demand,H100-SXM-80GB,1,-3.0,,,,,,,a negative price,2026-11-01\n")
    catalog = load_catalog(pricing_dir=pricing_copy, use_cache=False, today=TODAY)
    instances = {o.instance for o in catalog.offers}
    assert "box-z9" not in instances and "box-neg" not in instances and len(instances) > 10
    lines = len((pricing_copy / "offers.csv").read_text(encoding="utf-8").splitlines())
    assert any(f"offers.csv line {lines - 1}, field gpu: 'Z9-1GB'" in w and "row dropped" in w for w in catalog.warnings)
    assert any(f"line {lines} (onprem box-neg" in w and "negative" in w for w in catalog.warnings)


def test_the_user_layer_drops_placeholder_and_absurd_prices(write_csv: Callable[..., Path]) -> None:
    catalog = load_catalog(user_csv=write_csv([HEADER, PLACEHOLDER, ABSURD]), use_cache=False, today=TODAY)
    assert dropped(catalog.warnings, "box-700") and dropped(catalog.warnings, "box-absurd")


def test_the_cached_layer_drops_bad_rows_one_by_one(cache_dir: Path) -> None:
    good, placeholder, absurd = offer("good.x", 5.0), offer("bad.700", 700.0), offer("bad.huge", 250.0)
    table = CachedTable(name="aws", origin="aws-api", fetched_at=dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
                        offers=[good, placeholder, absurd])
    path = write_table(table)
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["offers"].append(raw["offers"][0] | {"instance": "bad.gpu", "gpu": "Z9-1GB"})
    raw["offers"].append(raw["offers"][0] | {"instance": "bad.zero", "price_per_hour": 0})
    path.write_text(json.dumps(raw), encoding="utf-8")
    catalog = load_catalog(today=TODAY)
    cached = {o.instance for o in catalog.offers if o.origin == "aws-api"}
    assert cached == {"good.x"}
    for bad in ("bad.700", "bad.huge", "bad.gpu"):
        assert dropped(catalog.warnings, bad), bad
    assert any("offer 5, field price_per_hour" in w and "row dropped" in w for w in catalog.warnings)


def test_refreshed_rows_pass_the_same_guards_before_they_are_cached(tmp_path: Path) -> None:
    path = tmp_path / "vms.csv"
    path.write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,Price,SpotPrice,Region,AvailabilityZone\n"
        "p5.4xlarge,H100,1,700.0,,us-east-1,use1-az1\n"
        "p5.4xlarge,H100,1,6.88,,us-east-2,use2-az1\n"
        "p5.4xlarge,H100,1,250.0,,us-west-2,usw2-az1\n", encoding="utf-8")
    conversion = offers_from_vms(read_vms(path, "vms.csv"), "aws", load_context(), source="t", as_of=TODAY,
                                 origin="skypilot")
    assert [o.region for o in conversion.offers] == ["us-east-2"]
    assert sum("placeholder" in w for w in conversion.warnings) == 2


def test_the_guard_names_unknown_gpus_placeholders_and_absurd_prices() -> None:
    ctx = load_context()
    assert offer_problem(offer("a", 5.0), ctx.gpus, ctx.rules) is None
    assert "not in pricing/gpus.csv" in (offer_problem(offer("a", 5.0, gpu="Z9"), ctx.gpus, ctx.rules) or "")
    assert "placeholder" in (offer_problem(offer("a", 700.0), ctx.gpus, ctx.rules) or "")
    assert "above 100" in (offer_problem(offer("a", 250.0), ctx.gpus, ctx.rules) or "")


def test_cli_choices_and_origins_derive_from_the_registry() -> None:
    assert REFRESH_CHOICES == refresher_names() + ("all",)
    assert set(refresher_names()) >= {"aws", "azure", "gpuhunt", "skypilot"}
    assert set(all_origins()) == {"bundled", "user"} | {r.origin for r in REFRESHERS}
    for spec in REFRESHERS:
        assert callable(spec.load())
        offer("x", 1.0, origin=spec.origin)
    with pytest.raises(ValidationError, match="origin 'nowhere' is not one of"):
        offer("x", 1.0, origin="nowhere")


def test_the_cache_layers_are_the_registry_entries(cache_dir: Path) -> None:
    write_table(CachedTable(name="aws", origin="gpuhunt", fetched_at=dt.datetime(2026, 11, 25, tzinfo=dt.timezone.utc),
                            offers=[offer("mislabelled.x", 5.0, origin="gpuhunt")]))
    (cache_dir / "notes.json").write_text("{}", encoding="utf-8")  # not a price table: not read at all
    catalog = load_catalog(today=TODAY)
    assert "mislabelled.x" not in {o.instance for o in catalog.offers}
    assert any("origin 'gpuhunt', but aws writes 'aws-api'" in w for w in catalog.warnings)
    assert not any("notes.json" in w for w in catalog.warnings)

"""Azure refresh against a local replay of the Retail Prices API (recorded pages, served on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from providers.azure import best_prices, query_url, refresh_azure
from providers.cache import read_tables

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
SKU = "Standard_NC24ads_A100_v4"


@pytest.fixture
def targets(make_offer: Callable) -> list:
    return [make_offer("azure", SKU, "eastus", "A100-PCIE-80GB", 1, 3.673),
            make_offer("azure", SKU, "westus2", "A100-PCIE-80GB", 1, 3.673),
            make_offer("aws", "g5.xlarge", "us-east-1", "A10G-24GB", 1, 1.006)]


def test_the_query_filters_by_service_and_sku() -> None:
    url = query_url("https://prices.azure.com/api/retail/prices", SKU)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["$filter"] == [f"serviceName eq 'Virtual Machines' and armSkuName eq '{SKU}'"]


def test_pages_are_followed_and_linux_consumption_and_spot_prices_are_kept(azure_server, targets) -> None:
    report = refresh_azure(targets, base_url=azure_server.url, now=NOW)
    assert report.warnings == [] and report.offers == 4
    assert len(azure_server.replay.requests) == 2 and "$skip=4" in azure_server.replay.requests[1]
    (table,), _ = read_tables()
    prices = {(o.region, o.market): o.price_per_hour for o in table.offers}
    # Windows, Low Priority and Reservation items are skipped; japaneast is not in the catalog.
    assert prices == {("eastus", "on-demand"): 3.673, ("eastus", "spot"): 0.4921,
                      ("westus2", "on-demand"): 3.673, ("westus2", "spot"): 0.615962}
    assert {o.origin for o in table.offers} == {"azure-api"} and {o.gpu for o in table.offers} == {"A100-PCIE-80GB"}


def test_a_failure_midway_through_paging_writes_nothing(azure_server, targets, cache_dir: Path) -> None:
    azure_server.replay.fail_skip = "4"
    report = refresh_azure(targets, base_url=azure_server.url, now=NOW)
    (warning,) = report.warnings
    assert warning.startswith(f"azure refresh failed: page 2 of {SKU}: HTTP 500")
    assert "kept the bundled/cached Azure prices" in warning
    assert report.path is None and not cache_dir.exists()


def test_a_failed_refresh_keeps_the_previous_cached_table(azure_server, targets, cache_dir: Path) -> None:
    refresh_azure(targets, base_url=azure_server.url, now=NOW)
    before = (cache_dir / "azure.json").read_bytes()
    azure_server.replay.fail_skip = "4"
    report = refresh_azure(targets, base_url=azure_server.url, now=NOW + dt.timedelta(days=1))
    assert report.path is None
    assert (cache_dir / "azure.json").read_bytes() == before
    assert [p.name for p in cache_dir.iterdir()] == ["azure.json"]


def test_an_unreachable_api_is_a_warning(targets) -> None:
    report = refresh_azure(targets, base_url="http://127.0.0.1:9/api/retail/prices", timeout_s=2, now=NOW)
    assert "cannot reach the price API" in report.warnings[0] and report.path is None


def test_a_next_page_on_another_host_is_not_followed(azure_server, targets, tmp_path: Path) -> None:
    page = json.loads((Path(__file__).parent / "data/azure/nc24ads_page1.json").read_text(encoding="utf-8"))
    page["NextPageLink"] = "https://elsewhere.example/api/retail/prices?$skip=4"
    (tmp_path / "hijack.json").write_text(json.dumps(page), encoding="utf-8")
    azure_server.replay.pages = {"0": str(tmp_path / "hijack.json")}
    report = refresh_azure(targets, base_url=azure_server.url, now=NOW)
    assert "NextPageLink leaves" in report.warnings[0] and report.path is None


def test_primary_meters_and_the_newest_price_win() -> None:
    def item(price: float, start: str, primary: bool) -> dict:
        return {"type": "Consumption", "unitOfMeasure": "1 Hour", "productName": "NCads A100 v4 Series",
                "skuName": "NC24ads A100 v4", "armRegionName": "eastus", "retailPrice": price,
                "effectiveStartDate": start, "isPrimaryMeterRegion": primary}

    items = [item(3.5, "2025-01-01T00:00:00Z", True), item(3.673, "2026-10-01T00:00:00Z", True),
             item(9.9, "2026-11-01T00:00:00Z", False)]
    assert best_prices(items, {"eastus"}) == {("eastus", "on-demand"): 3.673}

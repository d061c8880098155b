"""Live Azure prices from the public Retail Prices REST API (no account or credentials needed).

For each VM size in the catalog: GET `<base>?api-version=...&$filter=serviceName eq 'Virtual Machines'
and armSkuName eq '<size>'`, following `NextPageLink` until it is null. Kept items: type
Consumption, unit "1 Hour", not Windows (productName), not Low Priority (skuName); an item is spot
when its skuName contains "Spot". Only regions already in the catalog for that size are stored, so a
refresh updates prices rather than flooding quotes with every region Azure sells in.

Uses urllib only. The base URL is a parameter so tests can point it at a local server. Any failure,
including one part-way through paging, gives a warning and writes nothing: the previous (bundled or
cached) Azure prices stay in force.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from providers.refresh import RefreshReport, store, targets_for
from providers.schema import Offer

BASE_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
MAX_PAGES = 50  # one VM size spans a few pages; more means the API is looping
SOURCE = "Azure Retail Prices API (Linux, Consumption)"
KEPT = "kept the bundled/cached Azure prices"


class AzureFetchError(Exception):
    """A page could not be fetched or read; the message says which and why."""


def refresh_azure(
    catalog_offers: list[Offer],
    *,
    base_url: str = BASE_URL,
    timeout_s: float = 30.0,
    now: dt.datetime | None = None,
) -> RefreshReport:
    """Refresh every Azure VM size/region pair found in `catalog_offers` and store the result in the cache."""
    now = now or dt.datetime.now(dt.timezone.utc)
    targets = targets_for(catalog_offers, "azure")
    if not targets:
        return RefreshReport(source="azure", warnings=["azure refresh: no Azure offers in the catalog to refresh"])
    regions_by_sku: dict[str, set[str]] = {}
    for instance, region in targets:
        regions_by_sku.setdefault(instance, set()).add(region)
    offers: list[Offer] = []
    try:
        for sku in sorted(regions_by_sku):
            items = fetch_items(base_url, sku, timeout_s)
            for (region, market), price in sorted(best_prices(items, regions_by_sku[sku]).items()):
                template = targets[(sku, region)]
                offers.append(Offer.model_validate(template.model_dump() | {  # validated: the API's price too
                    "market": market, "price_per_hour": price, "source": SOURCE,
                    "as_of": now.date(), "origin": "azure-api",
                }))
    except AzureFetchError as exc:
        return RefreshReport(source="azure", warnings=[f"azure refresh failed: {exc}; {KEPT}"])
    except (KeyError, TypeError, ValueError) as exc:
        return RefreshReport(source="azure", warnings=[f"azure refresh failed: unexpected price item ({exc!r}); {KEPT}"])
    return store("azure", "azure-api", offers, now)


def query_url(base_url: str, sku: str) -> str:
    odata = f"serviceName eq 'Virtual Machines' and armSkuName eq '{sku}'"
    return f"{base_url}?{urllib.parse.urlencode({'api-version': API_VERSION, '$filter': odata})}"


def fetch_items(base_url: str, sku: str, timeout_s: float) -> list[dict[str, Any]]:
    """Every price item for one VM size, across all pages."""
    allowed = urllib.parse.urlsplit(base_url).netloc
    url: str | None = query_url(base_url, sku)
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        if url is None:
            return items
        if urllib.parse.urlsplit(url).netloc != allowed:
            raise AzureFetchError(f"page {page} of {sku}: NextPageLink leaves {allowed}; refusing to follow it")
        body = _get_json(url, f"page {page} of {sku}", timeout_s)
        page_items = body.get("Items")
        if not isinstance(page_items, list):
            raise AzureFetchError(f"page {page} of {sku}: no Items list in the answer")
        items += page_items
        url = body.get("NextPageLink") or None
    raise AzureFetchError(f"{sku}: more than {MAX_PAGES} pages; the API seems to loop")


def best_prices(items: list[dict[str, Any]], regions: set[str]) -> dict[tuple[str, str], float]:
    """USD/hour per (region, market) for Linux pay-as-you-go and spot; primary meters and newest prices win."""
    chosen: dict[tuple[str, str], tuple[bool, str, float]] = {}
    for item in items:
        sku_name = str(item.get("skuName", ""))
        if (
            item.get("type") != "Consumption"
            or item.get("unitOfMeasure") != "1 Hour"
            or "Windows" in str(item.get("productName", ""))
            or "Low Priority" in sku_name
            or item.get("armRegionName") not in regions
        ):
            continue
        price = float(item.get("retailPrice", 0.0))
        if price <= 0:
            continue
        key = (str(item["armRegionName"]), "spot" if "Spot" in sku_name else "on-demand")
        rank = (bool(item.get("isPrimaryMeterRegion", True)), str(item.get("effectiveStartDate", "")), price)
        if key not in chosen or rank[:2] > chosen[key][:2]:
            chosen[key] = rank
    return {key: rank[2] for key, rank in chosen.items()}


def _get_json(url: str, what: str, timeout_s: float) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise AzureFetchError(f"{what}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise AzureFetchError(f"{what}: cannot reach the price API ({exc.reason})") from None
    except TimeoutError:
        raise AzureFetchError(f"{what}: no answer within {timeout_s:g} s") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AzureFetchError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise AzureFetchError(f"{what}: the answer is not a JSON object")
    return body

"""Live AWS prices: on-demand from the Price List API, spot from EC2 spot price history.

On-demand: `pricing.get_products` (the Pricing API answers in us-east-1) with TERM_MATCH filters on
instanceType, regionCode, operatingSystem=Linux, tenancy=Shared, preInstalledSw=NA and
capacitystatus=Used, following NextToken. Each PriceList entry is a JSON *string*; the hourly price
is at terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD. Capacity Block products are skipped.

Spot: `ec2.describe_spot_price_history` per region (InstanceTypes, ProductDescriptions=Linux/UNIX,
StartTime=now) returns the current price per availability zone; the stored spot price is the median
over zones, and the source names the minimum and the zone count.

Credentials and region come from boto3's standard chain. No credentials, no network, throttling or
any other AWS error gives a warning and leaves the cache untouched: all prices are fetched first and
written at once, so a failure never leaves a half-refreshed table. boto3 is imported only here and
only when a refresh runs.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from providers.refresh import RefreshReport, store, targets_for
from providers.schema import Offer

PRICING_REGION = "us-east-1"
ON_DEMAND_MATCH = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
SPOT_PRODUCT = "Linux/UNIX"
THROTTLING = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
ON_DEMAND_SOURCE = "AWS Price List API get_products (AmazonEC2, Linux, shared tenancy, no pre-installed software)"

Client = Any
ClientFactory = Callable[[str, str], Client]


def refresh_aws(
    catalog_offers: list[Offer],
    *,
    client_factory: ClientFactory | None = None,
    now: dt.datetime | None = None,
) -> RefreshReport:
    """Refresh every AWS instance/region pair found in `catalog_offers` and store the result in the cache.

    `client_factory(service, region)` makes boto3-style clients; tests pass Stubber-backed ones.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    targets = targets_for(catalog_offers, "aws")
    if not targets:
        return RefreshReport(source="aws", warnings=["aws refresh: no AWS offers in the catalog to refresh"])
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return RefreshReport(source="aws", warnings=["aws refresh skipped: boto3 is not installed (pip install boto3)"])
    try:
        offers = _fetch(targets, client_factory or _boto3_factory(), now)
    except (BotoCoreError, ClientError, ValueError, KeyError, TypeError) as exc:
        return RefreshReport(source="aws", warnings=[_explain(exc)])
    return store("aws", "aws-api", offers, now)


def _fetch(targets: dict[tuple[str, str], Offer], make: ClientFactory, now: dt.datetime) -> list[Offer]:
    pricing = make("pricing", PRICING_REGION)
    today = now.date()
    offers: list[Offer] = []
    by_region: dict[str, list[str]] = defaultdict(list)
    for (instance, region), template in sorted(targets.items()):
        by_region[region].append(instance)
        price = on_demand_price(pricing, instance, region)
        if price is not None:
            offers.append(_offer(template, "on-demand", price, ON_DEMAND_SOURCE, today))
    for region, instances in sorted(by_region.items()):
        zones = spot_prices(make("ec2", region), sorted(instances), now)
        for instance, by_zone in sorted(zones.items()):
            prices = list(by_zone.values())
            source = (
                f"EC2 describe_spot_price_history {SPOT_PRODUCT}: median of {len(prices)} zone(s) "
                f"(min {min(prices):g})"
            )
            offers.append(_offer(targets[(instance, region)], "spot", statistics.median(prices), source, today))
    return offers


def on_demand_price(pricing: Client, instance: str, region: str) -> float | None:
    """USD per hour for Linux on-demand, or None when AWS lists no such product.

    Should several products match (rare), the highest price is taken so a quote never understates.
    """
    filters = [{"Type": "TERM_MATCH", "Field": "instanceType", "Value": instance},
               {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in ON_DEMAND_MATCH.items()]
    request: dict[str, Any] = {"ServiceCode": "AmazonEC2", "Filters": filters, "FormatVersion": "aws_v1"}
    prices: list[float] = []
    while True:
        page = pricing.get_products(**request)
        prices += [p for item in page.get("PriceList", []) if (p := hourly_usd(item)) is not None]
        token = page.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    return max(prices) if prices else None


def hourly_usd(item: str) -> float | None:
    """The hourly USD price inside one PriceList entry (a JSON string); None for non-hourly or zero prices."""
    product = json.loads(item)
    attributes = product.get("product", {}).get("attributes", {})
    if attributes.get("marketoption", "OnDemand") != "OnDemand":
        return None
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit") not in ("Hrs", "Hr"):
                continue
            usd = float(dimension["pricePerUnit"]["USD"])
            if usd > 0:
                return usd
    return None


def spot_prices(ec2: Client, instances: list[str], now: dt.datetime) -> dict[str, dict[str, float]]:
    """Current spot price per instance and availability zone (the latest record per zone)."""
    request: dict[str, Any] = {"InstanceTypes": instances, "ProductDescriptions": [SPOT_PRODUCT], "StartTime": now}
    latest: dict[tuple[str, str], tuple[dt.datetime, float]] = {}
    while True:
        page = ec2.describe_spot_price_history(**request)
        for record in page.get("SpotPriceHistory", []):
            key = (record["InstanceType"], record["AvailabilityZone"])
            stamp, price = record["Timestamp"], float(record["SpotPrice"])
            if price > 0 and (key not in latest or stamp > latest[key][0]):
                latest[key] = (stamp, price)
        token = page.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    zones: dict[str, dict[str, float]] = defaultdict(dict)
    for (instance, zone), (_, price) in latest.items():
        zones[instance][zone] = price
    return dict(zones)


def _offer(template: Offer, market: str, price: float, source: str, today: dt.date) -> Offer:
    """Validated like a table row (a NaN or negative price from the API is refused, not copied in)."""
    return Offer.model_validate(template.model_dump() | {
        "market": market, "price_per_hour": price, "source": source, "as_of": today, "origin": "aws-api"})


def _boto3_factory() -> ClientFactory:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})

    def make(service: str, region: str) -> Client:
        return boto3.client(service, region_name=region, config=config)

    return make


def _explain(exc: Exception) -> str:
    """One line saying why the refresh failed and what still applies."""
    kept = "kept the bundled/cached AWS prices"
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return f"aws refresh skipped: no AWS credentials found (set AWS_PROFILE or run `aws configure`); {kept}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "unknown")
        if code in THROTTLING:
            return f"aws refresh skipped: AWS is throttling requests ({code}); try again later; {kept}"
        return f"aws refresh failed: AWS answered {code} ({error.get('Message', 'no message')}); {kept}"
    if isinstance(exc, BotoCoreError):
        return f"aws refresh failed: cannot reach AWS ({exc}); {kept}"
    return f"aws refresh failed: unexpected answer from AWS ({type(exc).__name__}: {exc}); {kept}"

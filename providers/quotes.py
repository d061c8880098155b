"""Quotes: the catalog's offers filtered by what the user asks for and ranked by price or by price per sample.

GPU names match by token, case-insensitively: the query is split on '-', '_' and spaces and every
piece must be one of the GPU name's pieces, so `H100` matches H100-SXM-80GB, H100-PCIE-80GB and
H100-NVL-94GB, `a100 80gb` matches both 80 GB A100s, and `L4` does not match L40S. A query equal
to a GPU generation (`hopper`, `ampere`) matches the whole generation. Regions match by prefix,
case-insensitively: `us-east` keeps us-east-1 and us-east-2, `eu` every European region.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers.errors import QuoteFilterError
from providers.schema import Catalog, GpuSpec, Market, Offer

SortKey = Literal["price", "gpu-price", "per-sample", "samples-per-dollar"]
SORT_KEYS: tuple[SortKey, ...] = ("price", "gpu-price", "per-sample", "samples-per-dollar")


class Rate(NamedTuple):
    """Predicted training throughput of one offer, and the per-GPU batch it was predicted at."""

    samples_per_s: float
    batch_per_gpu: int | None = None


Throughput = Callable[[Offer, GpuSpec], float | Rate]
SECONDS_PER_HOUR = 3600.0


class QuoteFilter(BaseModel):
    """What to keep; every field left None keeps everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: str | None = Field(default=None, description="GPU name or generation, matched by token")
    gpu_count: int | None = Field(default=None, ge=1)
    min_gpu_memory_gb: float | None = Field(default=None, gt=0, description="GB per GPU")
    providers: tuple[str, ...] | None = None
    region: str | None = Field(default=None, description="region or its start: us-east matches us-east-1, us-east-2")
    market: Market | None = None
    max_price_per_hour: float | None = Field(default=None, gt=0, description="USD per instance-hour")

    @field_validator("providers")
    @classmethod
    def _lower(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if v is None else tuple(p.strip().lower() for p in v)


class Quote(BaseModel):
    """One offer as a quote: its price per GPU-hour, how old the price is, and optionally its cost per sample."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer: Offer
    price_age_days: int = Field(description="days between the price's as_of and today")
    usd_per_gpu_hour: float
    samples_per_s: float | None = Field(default=None, description="predicted training samples/s on this offer")
    batch_per_gpu: int | None = Field(default=None, description="the per-GPU batch samples_per_s was predicted at")
    usd_per_million_samples: float | None = None
    samples_per_usd: float | None = None


def gpu_matches(query: str, spec: GpuSpec) -> bool:
    wanted = _tokens(query)
    if not wanted:
        return False
    if query.strip().lower() == spec.generation.lower():
        return True
    return wanted <= _tokens(spec.name)


def region_matches(query: str, region: str) -> bool:
    return region.lower().startswith(query.strip().lower())


def find_quotes(
    catalog: Catalog,
    flt: QuoteFilter,
    *,
    sort: SortKey = "price",
    throughput: Throughput | None = None,
    today: dt.date | None = None,
) -> list[Quote]:
    """Filter, price and rank the catalog's offers; raises QuoteFilterError for a filter nothing can meet."""
    today = today or dt.date.today()
    if sort in ("per-sample", "samples-per-dollar") and throughput is None:
        raise QuoteFilterError(f"sorting by {sort} needs a throughput model; give a probe report (--probe report.json)")
    _check_names(catalog, flt)
    quotes = [_quote(o, catalog.gpu(o.gpu), throughput, today) for o in catalog.offers if _keep(o, catalog, flt)]
    return sorted(quotes, key=lambda q: _rank(q, sort))


def _keep(offer: Offer, catalog: Catalog, flt: QuoteFilter) -> bool:
    spec = catalog.gpu(offer.gpu)
    checks = (
        flt.gpu is None or gpu_matches(flt.gpu, spec),
        flt.gpu_count is None or offer.gpu_count == flt.gpu_count,
        flt.min_gpu_memory_gb is None or spec.memory_gb >= flt.min_gpu_memory_gb,
        flt.providers is None or offer.provider in flt.providers,
        flt.region is None or region_matches(flt.region, offer.region),
        flt.market is None or offer.market == flt.market,
        flt.max_price_per_hour is None or offer.price_per_hour <= flt.max_price_per_hour,
    )
    return all(checks)


def _check_names(catalog: Catalog, flt: QuoteFilter) -> None:
    """Unknown names are mistakes, not empty results: say what the catalog does have."""
    if flt.gpu is not None and not any(gpu_matches(flt.gpu, s) for s in catalog.gpus.values()):
        names = ", ".join(sorted(catalog.gpus))
        raise QuoteFilterError(f"no GPU matches {flt.gpu!r}; available: {names}")
    providers = sorted({o.provider for o in catalog.offers})
    for name in flt.providers or ():
        if name not in providers:
            raise QuoteFilterError(f"no provider named {name!r}; available: {', '.join(providers)}")
    if flt.region is not None:
        regions = sorted({o.region for o in catalog.offers if flt.providers is None or o.provider in flt.providers})
        if not any(region_matches(flt.region, r) for r in regions):
            raise QuoteFilterError(f"no offers in region {flt.region!r}; available: {', '.join(regions)}")


def _quote(offer: Offer, spec: GpuSpec, throughput: Throughput | None, today: dt.date) -> Quote:
    predicted = throughput(offer, spec) if throughput is not None else None
    rate, batch = (predicted.samples_per_s, predicted.batch_per_gpu) if isinstance(predicted, Rate) else (predicted, None)
    if rate is not None and rate <= 0:
        rate, batch = None, None  # the model predicts nothing usable here (e.g. the batch does not fit)
    samples_per_hour = rate * SECONDS_PER_HOUR if rate is not None else None
    return Quote(
        offer=offer,
        price_age_days=(today - offer.as_of).days,
        usd_per_gpu_hour=offer.price_per_gpu_hour,
        samples_per_s=rate,
        batch_per_gpu=batch,
        usd_per_million_samples=offer.price_per_hour / samples_per_hour * 1e6 if samples_per_hour else None,
        samples_per_usd=samples_per_hour / offer.price_per_hour if samples_per_hour else None,
    )


def _rank(quote: Quote, sort: SortKey) -> tuple[float, float, str, str, str, str]:
    o = quote.offer
    if sort == "gpu-price":
        primary = quote.usd_per_gpu_hour
    elif sort == "per-sample":
        primary = quote.usd_per_million_samples if quote.usd_per_million_samples is not None else float("inf")
    elif sort == "samples-per-dollar":
        primary = -quote.samples_per_usd if quote.samples_per_usd is not None else float("inf")
    else:
        primary = o.price_per_hour
    return (primary, o.price_per_hour, o.provider, o.instance, o.region, o.market)


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[-_\s]+", text.strip().lower()) if t}

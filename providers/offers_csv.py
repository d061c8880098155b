"""Reading one offer table (bundled `pricing/offers.csv` or a user's CSV of the same schema).

Row-level guards against quirks real catalogs have:
- GCP prices host and GPUs apart: a row may give `host_price` and `gpu_price`; with `price_per_hour`
  empty the loader sums them, with all three given they must agree (within the manifest's tolerance).
- Generic GPU names ("NVIDIA") are resolved by instance family (`pricing/families.csv`).
- Placeholder prices (0, values listed in the manifest such as 700.0, absurd $/GPU-hour) are
  dropped with a warning instead of being quoted (`providers.row_guards`, shared by every layer).
- Severity per layer: in the user's own CSV a price of zero or below or a GPU the spec table lacks
  is an error naming the line (the user can fix it, and a silently missing offer misleads the
  plan); in the bundled table such a row is dropped with a warning naming it.
- `gpu_memory_gb` is per GPU; a value equal to gpu_count x the spec's memory is a per-instance figure,
  read as per GPU with a warning; any other mismatch is an error.
- A row repeated with the same key and price (one per zone) is kept once; the same key with a
  different price is an error, since the table must reduce zones to one price itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from providers.csvio import Row, read_rows
from providers.errors import CatalogError
from providers.gpus import Family, gpu_for_instance
from providers.row_guards import price_problem
from providers.rules import Rules
from providers.schema import GpuSpec, Offer, Origin

REQUIRED = ("provider", "instance", "region", "market", "gpu", "gpu_count", "price_per_hour", "source", "as_of")
OPTIONAL = ("host_price", "gpu_price", "gpu_memory_gb", "vcpus", "ram_gb", "billing_seconds")
MARKETS = ("on-demand", "spot")
PRICE_UNIT = "USD per instance-hour"


class OfferTable(BaseModel):
    """The clean offers of one file, and what the guards had to say about it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    origin: Origin
    path: str
    offers: list[Offer]
    warnings: list[str]


@dataclass(frozen=True)
class _Context:
    gpus: dict[str, GpuSpec]
    families: list[Family]
    rules: Rules


def read_offers(
    path: Path,
    display: str,
    *,
    name: str,
    origin: Origin,
    gpus: dict[str, GpuSpec],
    families: list[Family],
    rules: Rules,
    latest: dt.date | None,
) -> OfferTable:
    """Read and guard one table; `latest` (today, for user tables) rejects rows dated after it."""
    ctx = _Context(gpus=gpus, families=families, rules=rules)
    offers: list[Offer] = []
    warnings: list[str] = []
    seen: dict[tuple[str, str, str, str], tuple[int, float]] = {}
    repeats = 0
    for row in read_rows(path, display, REQUIRED, OPTIONAL):
        offer, note = _parse(row, ctx, origin, latest)
        if note:
            warnings.append(note)
        if offer is None:
            continue
        if offer.key in seen:
            first_line, first_price = seen[offer.key]
            if abs(first_price - offer.price_per_hour) > 1e-9:
                raise row.fail(
                    "price_per_hour",
                    f"repeats line {first_line}'s offer {'/'.join(offer.key)} at a different price "
                    f"({offer.price_per_hour:g} vs {first_price:g})",
                    "keep one row per provider/instance/region/market (reduce zones to one price, e.g. the median)",
                )
            repeats += 1
            continue
        seen[offer.key] = (row.line, offer.price_per_hour)
        offers.append(offer)
    if repeats:
        warnings.append(f"{display}: dropped {repeats} row(s) repeated per zone (same offer and price)")
    return OfferTable(name=name, origin=origin, path=display, offers=offers, warnings=warnings)


def _parse(row: Row, ctx: _Context, origin: Origin, latest: dt.date | None) -> tuple[Offer | None, str | None]:
    """One row as an Offer, or (None, warning) when a guard rejects it."""
    provider = row.text("provider").lower()
    instance = row.text("instance")
    region = row.text("region")
    market = row.choice("market", MARKETS)
    gpu_count = row.integer("gpu_count", "the number of GPUs in the instance")
    assert gpu_count is not None
    label = f"{row.display} line {row.line} ({provider} {instance} {region} {market})"
    try:
        gpu = _resolve_gpu(row, ctx, provider, instance)
    except CatalogError as exc:
        if origin == "user":
            raise
        return None, f"{exc}; row dropped"
    price = _price(row, ctx.rules)

    problem = price_problem(price, gpu_count, ctx.rules)
    if problem is not None and origin == "user" and price <= 0:
        raise row.fail("price_per_hour", problem, f"give the offer's {PRICE_UNIT}, or delete the row")
    if problem is not None:
        return None, f"{label}: {problem}; row dropped"
    note = _check_memory(row, ctx, gpu, gpu_count, label)
    billing = row.integer("billing_seconds", "billing granularity in seconds (1 = per second)", required=False)
    offer = Offer(
        provider=provider,
        instance=instance,
        region=region,
        market=market,  # type: ignore[arg-type]
        gpu=gpu,
        gpu_count=gpu_count,
        price_per_hour=price,
        vcpus=row.integer("vcpus", "the number of vCPUs", required=False),
        ram_gb=row.positive("ram_gb", "host memory in GB", required=False),
        billing_seconds=billing or 1,
        source=row.text("source"),
        as_of=row.date("as_of", latest),
        origin=origin,
    )
    return offer, note


def _resolve_gpu(row: Row, ctx: _Context, provider: str, instance: str) -> str:
    gpu = row.text("gpu")
    if gpu in ctx.gpus:
        return gpu
    known = ", ".join(sorted(ctx.gpus))
    if ctx.rules.is_generic_gpu(gpu):
        resolved = gpu_for_instance(ctx.families, provider, instance)
        if resolved is None:
            raise row.fail(
                "gpu", f"{gpu!r} names no GPU and no family in pricing/families.csv matches {provider} {instance}",
                f"name the GPU (one of {known}) or add the family to pricing/families.csv",
            )
        return resolved
    raise row.fail("gpu", f"{gpu!r} is not in the GPU table", f"use one of {known}, or add the GPU to pricing/gpus.csv")


def _price(row: Row, rules: Rules) -> float:
    """USD per instance-hour, from the total or from host + GPU parts (GCP style)."""
    total = row.number("price_per_hour", PRICE_UNIT, required=False)
    host = row.number("host_price", "the host part in USD per hour", required=False)
    gpus = row.number("gpu_price", "the GPUs' part in USD per hour (all GPUs together)", required=False)
    if (host is None) != (gpus is None):
        missing = "gpu_price" if gpus is None else "host_price"
        raise row.fail(missing, "is empty while its partner is set", "give both host_price and gpu_price, or neither")
    if host is not None and gpus is not None:
        parts = host + gpus
        if total is None:
            return parts
        if abs(parts - total) > rules.price_sum_tolerance_usd:
            raise row.fail(
                "price_per_hour",
                f"{total:g} is not host_price + gpu_price ({host:g} + {gpus:g} = {parts:g})",
                "make the parts add up to the total, or leave price_per_hour empty to have them summed",
            )
        return total
    if total is None:
        raise row.fail("price_per_hour", "is empty", f"give {PRICE_UNIT}, or host_price and gpu_price")
    return total


def _check_memory(row: Row, ctx: _Context, gpu: str, gpu_count: int, label: str) -> str | None:
    listed = row.positive("gpu_memory_gb", "GB of memory per GPU", required=False)
    if listed is None:
        return None
    spec = ctx.gpus[gpu].memory_gb
    slack = ctx.rules.gpu_memory_tolerance

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= slack * b

    if close(listed, spec):
        return None
    if gpu_count > 1 and close(listed, gpu_count * spec):
        return f"{label}: gpu_memory_gb {listed:g} is the whole instance's; read as {spec:g} GB per GPU"
    raise row.fail(
        "gpu_memory_gb",
        f"{listed:g} GB does not match {gpu} ({spec:g} GB per GPU)",
        "give memory per GPU, or fix the gpu column",
    )


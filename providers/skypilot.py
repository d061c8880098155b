"""SkyPilot catalog files (schema v8 `<cloud>/vms.csv`) as batchfit offers.

Columns are read by header name: their order differs between clouds (GCP puts vCPUs second) and
extra columns (Arch, GpuInfo) come and go. The traps these files hold, and what is done with each:
- GCP lists GPU machine types host-only; their GPUs are separate accelerator rows (empty
  InstanceType) priced per zone. The offer is host + accelerators, paired through
  `pricing/gcp_hosts.csv` (which accelerator, how many).
- A spot price equal to on-demand means no spot market in that zone, and a spot price above
  on-demand is no real one either: such zones are left out of the spot median.
- AWS Local Zones and Wavelength zones (`use1-atl2-az1`, `usw2-lax1-az1`) list spot prices far
  below their region's: they are left out of spot medians too.
- RunPod writes GB into GpuInfo's `SizeInMiB` (80 for an 80 GB card): values below 1024 are GB.
- Placeholder prices (GCP's 700.0, zeros) fail `providers.row_guards` and are dropped per zone.
Per region the on-demand price is the highest zone price (a quote never understates) and spot is
the median of the usable zones; each offer's `source` says how many zones and what was left out.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from providers.errors import CatalogError
from providers.pricing_context import PricingContext
from providers.row_guards import PRICE_EPSILON, keep_guarded, price_problem
from providers.schema import Offer

REQUIRED = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "SpotPrice", "Region")
MIB_SIZE = re.compile(r"SizeInMiB'?\"?\s*:\s*([0-9.]+)")
MIB_PER_GIB = 1024.0
# SkyPilot rounds spot to 4-6 decimals and on-demand not: equal within this fraction means equal.
SAME_PRICE = 1e-4


@dataclass(frozen=True)
class VmRow:
    """One line of a vms.csv: an instance (or a GCP accelerator) in one zone."""

    line: int
    instance: str
    accelerator: str
    count: float | None
    vcpus: float | None
    memory_gib: float | None
    gpu_memory_gb: float | None
    price: float | None
    spot: float | None
    region: str
    zone: str


@dataclass
class _Machine:
    """One (instance, region) with its per-zone prices, before reduction to offers."""

    gpu: str
    count: int
    vcpus: float | None
    ram_gb: float | None
    zones: list[tuple[str, float | None, float | None]] = field(default_factory=list)


@dataclass
class Conversion:
    offers: list[Offer]
    warnings: list[str]


def read_vms(path: Path, display: str) -> list[VmRow]:
    """Every data line of a vms.csv; a missing column or a non-number is a one-line CatalogError."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CatalogError(f"{display}: cannot be read ({exc.strerror}); check the path") from None
    rows: list[VmRow] = []
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [h for h in REQUIRED if h not in header]
        if missing:
            raise CatalogError(f"{display} line 1, field {missing[0]}: missing column; is this a SkyPilot v8 vms.csv?")
        reader.fieldnames = header
        try:
            for values in reader:
                rows.append(_row(values, reader.line_num, display))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CatalogError(f"{display} line {reader.line_num}: unreadable CSV ({exc}); re-fetch the file") from None
    return rows


def _row(values: dict[str, str | None], line: int, display: str) -> VmRow:
    def text(name: str) -> str:
        return (values.get(name) or "").strip()

    def number(name: str) -> float | None:
        raw = text(name)
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise CatalogError(f"{display} line {line}, field {name}: {raw!r} is not a number; re-fetch the file") from None

    return VmRow(
        line=line, instance=text("InstanceType"), accelerator=text("AcceleratorName"),
        count=number("AcceleratorCount"), vcpus=number("vCPUs"), memory_gib=number("MemoryGiB"),
        gpu_memory_gb=gpu_memory_gb(text("GpuInfo")), price=number("Price"), spot=number("SpotPrice"),
        region=text("Region"), zone=text("AvailabilityZone"),
    )


def gpu_memory_gb(gpu_info: str) -> float | None:
    """Memory per GPU from GpuInfo; RunPod's SizeInMiB holds GB, so small values are taken as GB."""
    match = MIB_SIZE.search(gpu_info)
    if match is None:
        return None
    value = float(match.group(1))
    return value if value < MIB_PER_GIB else value / MIB_PER_GIB


def is_local_zone(provider: str, zone: str) -> bool:
    """AWS zone ids of regular zones have two parts (use1-az1); Local and Wavelength zones have more."""
    return provider == "aws" and zone.count("-") > 1


def offers_from_vms(
    rows: list[VmRow], provider: str, ctx: PricingContext, *, source: str, as_of: dt.date, origin: str
) -> Conversion:
    """Offers (per region, on-demand and spot) from one cloud's rows, through the shared row guards."""
    warnings: list[str] = []
    unknown: dict[str, int] = defaultdict(int)
    machines = _gcp_machines(rows, ctx, warnings, unknown) if provider == "gcp" else _machines(rows, provider, ctx, warnings, unknown)
    offers: list[Offer] = []
    for (instance, region), machine in sorted(machines.items()):
        offers += _reduce(provider, instance, region, machine, ctx, source, as_of, origin, warnings)
    if unknown:
        names = ", ".join(f"{name} ({n} rows)" for name, n in sorted(unknown.items()))
        warnings.append(f"{source}: skipped GPUs not in our tables: {names}; add them to pricing/gpu_aliases.csv "
                        "and pricing/gpus.csv (fractional GPUs are not planned)")
    kept, dropped = keep_guarded(offers, ctx.gpus, ctx.rules, source)
    return Conversion(offers=kept, warnings=warnings + dropped)


def _machines(
    rows: list[VmRow], provider: str, ctx: PricingContext, warnings: list[str], unknown: dict[str, int]
) -> dict[tuple[str, str], _Machine]:
    machines: dict[tuple[str, str], _Machine] = {}
    for row in rows:
        if not row.instance or not row.accelerator or not row.count:
            continue  # CPU-only machine
        count = _whole(row.count)
        if count is None:
            unknown[f"fractional GPUs ({row.accelerator} x{row.count:g})"] += 1
            continue
        gpu = ctx.namer.resolve(provider, row.instance, row.accelerator, row.gpu_memory_gb)
        if gpu is None:
            unknown[row.accelerator] += 1
            continue
        machine = machines.setdefault((row.instance, row.region), _Machine(gpu, count, row.vcpus, row.memory_gib))
        machine.zones.append((row.zone, row.price, row.spot))
    return machines


def _gcp_machines(
    rows: list[VmRow], ctx: PricingContext, warnings: list[str], unknown: dict[str, int]
) -> dict[tuple[str, str], _Machine]:
    """GCP: each GPU machine type's host row plus its accelerator row in the same zone."""
    accelerators = {
        (r.accelerator, _whole(r.count or 0), r.region, r.zone): r
        for r in rows if not r.instance and r.accelerator
    }
    machines: dict[tuple[str, str], _Machine] = {}
    unpaired = placeholders = 0
    for host in rows:
        if host.instance not in ctx.gcp_hosts:
            continue
        name, count = ctx.gcp_hosts[host.instance]
        acc = accelerators.get((name, count, host.region, host.zone))
        if acc is None:
            unpaired += 1
            continue
        gpu = ctx.namer.resolve("gcp", host.instance, name, acc.gpu_memory_gb)
        if gpu is None:
            unknown[name] += 1
            continue
        machine = machines.setdefault((host.instance, host.region), _Machine(gpu, count, host.vcpus, host.memory_gib))
        pairs = ((host.price, acc.price), (host.spot, acc.spot))
        od, spot = (_sum_parts(h, g, count, ctx) for h, g in pairs)
        placeholders += sum(1 for (h, g), total in zip(pairs, (od, spot), strict=True) if total is None and h is not None and g is not None)
        machine.zones.append((host.zone, od, spot))
    if unpaired:
        warnings.append(f"gcp: {unpaired} host row(s) have no accelerator price in their zone; skipped")
    if placeholders:
        warnings.append(f"gcp: {placeholders} zone price(s) have a placeholder (such as 700.0) on the host or its GPUs; left out")
    return machines


def _sum_parts(host: float | None, gpus: float | None, count: int, ctx: PricingContext) -> float | None:
    """Host + accelerators, or None when either part is missing or a placeholder (700.0 on either side)."""
    if host is None or gpus is None:
        return None
    if host < 0 or any(abs(host - p) < PRICE_EPSILON for p in ctx.rules.placeholder_prices):
        return None
    if price_problem(gpus, count, ctx.rules) is not None:
        return None
    return host + gpus


def _reduce(
    provider: str, instance: str, region: str, machine: _Machine, ctx: PricingContext,
    source: str, as_of: dt.date, origin: str, warnings: list[str],
) -> list[Offer]:
    label = f"{provider} {instance} {region}"
    on_demand = [p for _, p, _ in machine.zones if p is not None and price_problem(p, machine.count, ctx.rules) is None]
    placeholders = sum(1 for _, p, _ in machine.zones if p is not None and price_problem(p, machine.count, ctx.rules))
    if placeholders:
        warnings.append(f"{source} ({label}): {placeholders} zone(s) list a placeholder price; left out")
    offers: list[Offer] = []
    od = max(on_demand) if on_demand else None
    if od is not None:
        offers.append(_offer(provider, instance, region, "on-demand", od, machine, source, as_of, origin))
    spots, notes = _usable_spot(provider, machine, od, ctx)
    if spots:
        detail = f"spot = median of {len(spots)} zone(s) (min {min(spots):g})" + (f"; left out: {', '.join(notes)}" if notes else "")
        offers.append(_offer(provider, instance, region, "spot", statistics.median(spots), machine, f"{source}; {detail}", as_of, origin))
    return offers


def _usable_spot(
    provider: str, machine: _Machine, od: float | None, ctx: PricingContext
) -> tuple[list[float], list[str]]:
    usable: list[float] = []
    left: dict[str, int] = defaultdict(int)
    for zone, zone_od, spot in machine.zones:
        if spot is None:
            continue
        if price_problem(spot, machine.count, ctx.rules) is not None:
            left["placeholder"] += 1
        elif zone_od is not None and abs(spot - zone_od) <= SAME_PRICE * max(zone_od, 1.0):
            left["no spot market (spot = on-demand)"] += 1
        elif od is not None and spot > od:
            left["spot above on-demand"] += 1
        elif is_local_zone(provider, zone):
            left["Local Zone"] += 1
        else:
            usable.append(spot)
    return usable, [f"{n} {why}" for why, n in sorted(left.items())]


def _offer(
    provider: str, instance: str, region: str, market: str, price: float, machine: _Machine,
    source: str, as_of: dt.date, origin: str,
) -> Offer:
    return Offer(
        provider=provider, instance=instance, region=region, market=market,  # type: ignore[arg-type]
        gpu=machine.gpu, gpu_count=machine.count, price_per_hour=round(price, 6),
        vcpus=int(machine.vcpus) if machine.vcpus and machine.vcpus >= 1 else None,
        ram_gb=machine.ram_gb if machine.ram_gb and machine.ram_gb > 0 else None,
        source=source, as_of=as_of, origin=origin,
    )


def _whole(value: float) -> int | None:
    return int(value) if value >= 1 and float(value).is_integer() else None

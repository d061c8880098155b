"""Print offers.csv rows from a SkyPilot v8 vms.csv (or an extraction of one in pricing/sources/).

    python scripts/skypilot_rows.py FILE --provider aws --commit 00148f2 --as-of 2025-06-01 \
        [--instances p5.48xlarge,g6.xlarge] [--regions us-east-1,us-west-2]

The rows go through the same conversion as `batchfit quotes --refresh skypilot` (header names,
GCP host + accelerator pairing, spot medians without Local Zones or zones without a spot market,
placeholder guards), so the bundled table and a live refresh agree on method.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
from pathlib import Path

from providers.pricing_context import load_context
from providers.skypilot import offers_from_vms, read_vms

COLUMNS = ("provider", "instance", "region", "market", "gpu", "gpu_count", "price_per_hour", "host_price",
           "gpu_price", "gpu_memory_gb", "vcpus", "ram_gb", "billing_seconds", "source", "as_of")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path)
    p.add_argument("--provider", required=True)
    p.add_argument("--commit", required=True, help="the stored file's commit, recorded in every row's source")
    p.add_argument("--as-of", required=True, type=dt.date.fromisoformat, help="an honest lower bound of the price date")
    p.add_argument("--why", default="", help="why as_of is a lower bound, appended to the source")
    p.add_argument("--instances", default="", help="comma list; empty keeps every GPU instance")
    p.add_argument("--regions", default="", help="comma list; empty keeps every region")
    args = p.parse_args(argv)
    source = f"skypilot-catalog catalogs/v8/{args.provider}/vms.csv @{args.commit}" + (f" ({args.why})" if args.why else "")
    conversion = offers_from_vms(read_vms(args.file, str(args.file)), args.provider, load_context(),
                                 source=source, as_of=args.as_of, origin="bundled")
    wanted = {i for i in args.instances.split(",") if i}
    regions = {r for r in args.regions.split(",") if r}
    writer = csv.writer(sys.stdout, lineterminator="\n")
    for o in conversion.offers:
        if (wanted and o.instance not in wanted) or (regions and o.region not in regions):
            continue
        writer.writerow([o.provider, o.instance, o.region, o.market, o.gpu, o.gpu_count, _usd(o.price_per_hour), "", "",
                         "", o.vcpus or "", f"{o.ram_gb:g}" if o.ram_gb else "", "", o.source, o.as_of.isoformat()])
    for note in conversion.warnings:
        sys.stderr.write(f"note: {note}\n")
    return 0


def _usd(value: float) -> str:
    """Every digit the catalog gave, up to 6 decimals (`:g` would keep only 6 significant ones)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""`batchfit quotes`: cloud GPU offers, filtered, ranked by price, or by price per sample with `--probe`.

Prices come from `providers.load_catalog` (bundled tables, refreshed cache, `--prices` CSV).
`--refresh SOURCE|all` fetches live prices into the cache first; the sources are the entries of
`providers.registry` (aws, azure, gpuhunt, skypilot). `--json` prints only JSON on
stdout; warnings (stale tables, dropped rows, failed refreshes) always go to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from planner.cli.arg_types import positive
from planner.errors import BadInput
from providers.catalog import load_catalog
from providers.errors import QuoteFilterError
from providers.quotes import (
    SORT_KEYS,
    Quote,
    QuoteFilter,
    SortKey,
    find_quotes,
)
from providers.registry import REFRESHERS, refresher_names
from providers.schema import CATALOG_SCHEMA_VERSION, Catalog

if TYPE_CHECKING:
    from planner.plan.offer_rate import OfferRate

REFRESH_CHOICES = refresher_names() + ("all",)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quotes",
        help="list cloud GPU offers with their prices and the age of each price",
        description="List GPU offers from the bundled, refreshed and your own price tables.",
    )
    p.add_argument("--gpu", metavar="NAME", help="GPU name or generation, e.g. H100, A100-80GB, hopper")
    p.add_argument("--gpu-count", type=positive(int, "--gpu-count"), metavar="N")
    p.add_argument("--provider", metavar="P", help="provider id, or a comma list (aws,gcp,azure,lambda,...)")
    p.add_argument("--region", metavar="R", help="provider region or its start, e.g. us-east-1 or us-east ('any' for global prices)")
    market = p.add_mutually_exclusive_group()
    market.add_argument("--spot", dest="market", action="store_const", const="spot", help="spot offers only")
    market.add_argument("--on-demand", dest="market", action="store_const", const="on-demand", help="on-demand only")
    p.add_argument("--min-gpu-mem", type=positive(float, "--min-gpu-mem"), metavar="GB", help="memory per GPU, GB")
    p.add_argument("--max-price", type=positive(float, "--max-price"), metavar="USD",
                   help="highest USD per instance-hour")
    p.add_argument("--sort", choices=SORT_KEYS, default=None,
                   help="price, gpu-price, per-sample or samples-per-dollar (default: per-sample with --probe, else price)")
    p.add_argument("--probe", metavar="report.json",
                   help="saved probe report: adds each GPU's largest batch that fits, its samples/s and $ per M samples")
    p.add_argument("--refresh", choices=REFRESH_CHOICES, metavar="SOURCE",
                   help="fetch live prices into the cache first: "
                   + "; ".join(f"{r.name}: {r.summary}" for r in REFRESHERS) + "; all: every one of them")
    p.add_argument("--prices", metavar="my.csv", help="your own prices (same columns as pricing/offers.csv)")
    p.add_argument("--json", action="store_true", help="print JSON only (warnings still go to stderr)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    today = dt.date.today()
    notes = _refresh(args.refresh) if args.refresh else []
    catalog = load_catalog(user_csv=Path(args.prices) if args.prices else None, today=today)
    notes += [f"warning: {w}" for w in catalog.warnings]
    flt = QuoteFilter(
        gpu=args.gpu,
        gpu_count=args.gpu_count,
        min_gpu_memory_gb=args.min_gpu_mem,
        providers=tuple(p for p in args.provider.split(",") if p.strip()) if args.provider else None,
        region=args.region,
        market=args.market,
        max_price_per_hour=args.max_price,
    )
    throughput = _throughput(Path(args.probe), catalog) if args.probe else None
    notes += [f"warning: {w}" for w in (throughput.warnings if throughput else [])]
    sort: SortKey = args.sort or ("per-sample" if throughput else "price")
    try:
        quotes = find_quotes(catalog, flt, sort=sort, throughput=throughput, today=today)
    except QuoteFilterError as exc:
        raise BadInput(str(exc)) from None
    if not quotes:
        notes.append("no offers match these filters; loosen them or run `batchfit quotes` to see all")
    for note in notes:
        sys.stderr.write(f"batchfit: {note}\n")
    if args.json:
        sys.stdout.write(json.dumps(_document(catalog, flt, sort, quotes, today), indent=2) + "\n")
    else:
        _print_table(quotes, with_throughput=throughput is not None)
    return 0


def _refresh(which: str) -> list[str]:
    """Run the live refreshers against the bundled offers; every outcome becomes one stderr line."""
    bundled = load_catalog(use_cache=False)
    specs = REFRESHERS if which == "all" else tuple(r for r in REFRESHERS if r.name == which)
    notes: list[str] = []
    for spec in specs:
        source = spec.name
        report = spec.load()(bundled.offers)
        notes += [f"warning: {w}" for w in report.warnings]
        if report.path:
            notes.append(f"{source}: refreshed {report.offers} prices into {report.path}")
    return notes


def _throughput(path: Path, catalog: Catalog) -> OfferRate:
    """Samples/s per offer at the largest batch that fits its GPU, from the planner's models."""
    from planner.plan.offer_rate import OfferRate
    from planner.report_file import load_probe_report

    return OfferRate(load_probe_report(path), catalog.gpus)


def _document(catalog: Catalog, flt: QuoteFilter, sort: str, quotes: list[Quote], today: dt.date) -> dict:
    return {
        "schema_version": CATALOG_SCHEMA_VERSION,
        "today": today.isoformat(),
        "sort": sort,
        "filters": flt.model_dump(mode="json", exclude_none=True),
        "quotes": [q.model_dump(mode="json") for q in quotes],
        "tables": [t.model_dump(mode="json") for t in catalog.tables],
        "warnings": catalog.warnings,
    }


def _print_table(quotes: list[Quote], *, with_throughput: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for name in ("provider", "instance", "region", "market", "GPUs"):
        table.add_column(name, no_wrap=True)
    rate_columns = ("batch/GPU", "samples/s", "$/M samples") if with_throughput else ()
    for name in ("$/hour", "$/GPU-hour") + rate_columns + ("price age",):
        table.add_column(name, justify="right", no_wrap=True)
    for q in quotes:
        o = q.offer
        cells = [o.provider, o.instance, o.region, o.market, f"{o.gpu_count}x {o.gpu}",
                 f"{o.price_per_hour:.3f}", f"{q.usd_per_gpu_hour:.3f}"]
        if with_throughput:
            cells += [_maybe(q.batch_per_gpu, "{:,}"), _maybe(q.samples_per_s, "{:.1f}"),
                      _maybe(q.usd_per_million_samples, "{:.3f}")]
        cells.append(f"{q.price_age_days} d")
        table.add_row(*cells)
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def _maybe(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)

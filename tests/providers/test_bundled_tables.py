"""The bundled catalog in pricing/: enough offers, every one sourced and dated, every GPU specified."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter

import pytest

from providers.catalog import load_catalog
from providers.quotes import QuoteFilter, find_quotes
from providers.rules import pricing_dir
from providers.schema import CATALOG_SCHEMA_VERSION

TODAY = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with (pricing_dir() / "offers.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_bundled_catalog_loads_every_row_without_dropping_any(rows: list[dict[str, str]]) -> None:
    catalog = load_catalog(use_cache=False, today=TODAY)
    assert len(catalog.offers) == len(rows) >= 60
    assert [t.origin for t in catalog.tables] == ["bundled"]
    assert all("dropped" not in w for w in catalog.warnings)


def test_six_providers_with_several_regions_and_both_markets(rows: list[dict[str, str]]) -> None:
    per_provider = Counter(r["provider"] for r in rows)
    assert set(per_provider) >= {"aws", "gcp", "azure", "lambda", "runpod", "nebius"}
    for cloud in ("aws", "gcp"):
        regions = {r["region"] for r in rows if r["provider"] == cloud}
        markets = {r["market"] for r in rows if r["provider"] == cloud}
        assert len(regions) >= 3, cloud
        assert markets == {"on-demand", "spot"}, cloud
    assert {r["region"] for r in rows if r["provider"] == "aws"} >= {"us-east-1", "us-east-2", "us-west-2", "eu-north-1"}
    # Azure's spot and regional rows were 2024 snapshots; only its dated eastus list prices remain
    # bundled, and `--refresh azure` (no account needed) fetches the rest live.
    assert {r["region"] for r in rows if r["provider"] == "azure"} == {"eastus"}


def test_no_bundled_price_is_older_than_june_2025(rows: list[dict[str, str]]) -> None:
    assert min(dt.date.fromisoformat(r["as_of"]) for r in rows) >= dt.date(2025, 6, 1)


def test_rows_from_the_skypilot_catalog_name_the_stored_file_and_its_full_commit(rows: list[dict[str, str]]) -> None:
    sky = [r for r in rows if "skypilot-catalog catalogs/v8/" in r["source"]]
    assert len(sky) >= 60
    for row in sky:
        commit = row["source"].split("@", 1)[1].split()[0]
        assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), row["source"]
        assert "lower bound" in row["source"]


def test_every_row_has_a_source_and_a_past_date(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["source"].strip(), row
        assert dt.date.fromisoformat(row["as_of"]) <= TODAY, row


def test_spot_rows_say_how_zones_were_reduced(rows: list[dict[str, str]]) -> None:
    aws_spot = [r for r in rows if r["provider"] == "aws" and r["market"] == "spot"]
    assert aws_spot
    assert all(any(w in r["source"] for w in ("median", "midpoint", "one spot price")) for r in aws_spot)


def test_gpu_table_covers_every_offer_and_has_no_bf16_on_t4_or_v100() -> None:
    catalog = load_catalog(use_cache=False, today=TODAY)
    assert {o.gpu for o in catalog.offers} <= set(catalog.gpus)
    for name, spec in catalog.gpus.items():
        if name.startswith(("T4", "V100")):
            assert spec.bf16_tflops is None and spec.fp16_tflops > 0
        else:
            assert spec.bf16_tflops is not None
        assert spec.source and spec.memory_gb > 0 and spec.bandwidth_gbs > 0


def test_manifest_declares_the_schema_version_and_tables() -> None:
    manifest = json.loads((pricing_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["schema_version"] == CATALOG_SCHEMA_VERSION
    assert {"offers", "gpus", "families"} <= set(manifest["tables"])


def test_h100_is_quoted_by_at_least_four_providers() -> None:
    catalog = load_catalog(use_cache=False, today=TODAY)
    providers = {q.offer.provider for q in find_quotes(catalog, QuoteFilter(gpu="H100"), today=TODAY)}
    assert len(providers) >= 4


def test_gcp_rows_that_split_host_and_gpus_add_up(rows: list[dict[str, str]]) -> None:
    split = [r for r in rows if r["host_price"]]
    assert split and all(r["provider"] == "gcp" for r in split)
    for row in split:
        assert float(row["host_price"]) + float(row["gpu_price"]) == pytest.approx(float(row["price_per_hour"]), abs=0.01)


def test_skypilot_rows_are_reproduced_from_the_extractions_in_pricing_sources(rows: list[dict[str, str]]) -> None:
    from providers.pricing_context import load_context
    from providers.skypilot import offers_from_vms, read_vms

    files = {"00148f2af3672e2229b4f7bf8157d5a3f36e3c35": "aws_v8_00148f2.csv",
             "e385a0d348eda9cefd9806423e7725944dc249e4": "aws_v8_e385a0d.csv"}
    ctx = load_context()
    for commit, name in files.items():
        path = pricing_dir() / "sources" / name
        made = {o.key: o.price_per_hour for o in offers_from_vms(
            read_vms(path, name), "aws", ctx, source="s", as_of=dt.date(2025, 6, 1), origin="bundled").offers}
        bundled = [r for r in rows if f"@{commit}" in r["source"]]
        assert bundled, commit
        for r in bundled:
            key = (r["provider"], r["instance"], r["region"], r["market"])
            assert made[key] == pytest.approx(float(r["price_per_hour"]), rel=1e-6), key

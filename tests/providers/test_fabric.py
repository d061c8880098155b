"""The inter-node fabric table: every bundled offer's instance is covered, rows are checked, and
a bad row is refused with one line naming its file, line and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from providers.catalog import load_catalog
from providers.errors import CatalogError

TODAY = dt.date(2026, 12, 1)
HEADER = "provider,instance_prefix,gbps,technology,source,as_of\n"


def test_every_bundled_offer_has_a_fabric_row_with_a_source():
    catalog = load_catalog(use_cache=False, today=TODAY)
    for offer in catalog.offers:
        fabric = catalog.fabric(offer.provider, offer.instance)
        assert fabric is not None, offer.instance
        assert fabric.source and fabric.as_of <= TODAY


def test_the_longest_prefix_wins_and_units_are_bytes_per_second():
    catalog = load_catalog(use_cache=False, today=TODAY)
    p5 = catalog.fabric("aws", "p5.48xlarge")
    assert p5 is not None and p5.technology == "efa" and p5.gbps == 3200
    assert p5.bytes_per_s == 400e9  # 3,200 Gb/s / 8 bits
    assert catalog.fabric("nebius", "gpu-h100-sxm-8gpu").clustered  # type: ignore[union-attr]
    assert not catalog.fabric("nebius", "gpu-h100-sxm-1gpu").clustered  # type: ignore[union-attr]
    assert catalog.fabric("aws", "x9.unknown") is None


@pytest.mark.parametrize("row,error", [
    ("aws,p5.,fast,efa,s,2026-12-01", r"fabric\.csv line 2, field gbps: 'fast' is not a number"),
    ("aws,p5.,-1,efa,s,2026-12-01", r"fabric\.csv line 2, field gbps: -1 is negative"),
    ("aws,p5.,100,carrier-pigeon,s,2026-12-01", r"fabric\.csv line 2, field technology: 'carrier-pigeon' is not one of"),
    ("aws,p5.,100,none,s,2026-12-01", r"fabric\.csv line 2, field gbps: 100 with technology none; give 0"),
    ("aws,p5.,0,efa,s,2026-12-01", r"fabric\.csv line 2, field gbps: 0 with technology efa"),
    ("aws,p5.,100,efa,,2026-12-01", r"fabric\.csv line 2, field source: is empty"),
    ("aws,p5.,100,efa,s,yesterday", r"fabric\.csv line 2, field as_of: 'yesterday' is not a date"),
    ("aws,p5.,100,efa,s,2026-12-01\naws,p5.,200,efa,s,2026-12-01", r"fabric\.csv line 3, field instance_prefix: aws 'p5\.' is listed twice"),
])
def test_a_bad_fabric_row_is_refused_in_one_line(pricing_copy: Path, row: str, error: str):
    (pricing_copy / "fabric.csv").write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=error) as caught:
        load_catalog(use_cache=False, today=TODAY, pricing_dir=pricing_copy)
    assert "\n" not in str(caught.value)

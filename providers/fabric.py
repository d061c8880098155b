"""The inter-node fabric table (`pricing/fabric.csv`): how fast instances of one type reach each other.

One row per (provider, instance-name prefix); the longest matching prefix wins (`Catalog.fabric`).
`gbps` is the instance's NICs for GPU traffic, Gb/s one direction; technology `none` (gbps 0) marks
instances that are not sold as a cluster, which the planner keeps to one node and says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from providers.csvio import read_rows
from providers.errors import CatalogError
from providers.schema import Fabric, FabricKind

FABRIC_COLUMNS = ("provider", "instance_prefix", "gbps", "technology", "source", "as_of")


def read_fabrics(path: Path, display: str) -> list[Fabric]:
    """Parse the fabric table; a bad row stops the load with one line naming it."""
    rows: list[Fabric] = []
    seen: set[tuple[str, str]] = set()
    for row in read_rows(path, display, FABRIC_COLUMNS, ()):
        provider = row.text("provider").lower()
        prefix = row.text("instance_prefix")
        if (provider, prefix) in seen:
            raise row.fail("instance_prefix", f"{provider} {prefix!r} is listed twice", "keep one row per prefix")
        seen.add((provider, prefix))
        technology = row.choice("technology", get_args(FabricKind))
        gbps = row.number("gbps", "Gb/s of the whole instance, one direction (0 with technology none)")
        assert gbps is not None
        if gbps < 0:
            raise row.fail("gbps", f"{gbps:g} is negative", "give Gb/s of the whole instance, one direction")
        if technology == "none" and gbps != 0:
            raise row.fail("gbps", f"{gbps:g} with technology none", "give 0, or name the technology")
        if technology != "none" and gbps == 0:
            raise row.fail("gbps", f"0 with technology {technology}", "give the Gb/s, or technology none")
        source = row.text("source")
        rows.append(Fabric(provider=provider, prefix=prefix, gbps=gbps, technology=technology,  # type: ignore[arg-type]
                           source=source, as_of=row.date("as_of")))
    if not rows:
        raise CatalogError(f"{display}: no rows; add one row per instance type or prefix")
    return rows

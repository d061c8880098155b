"""The bundled catalog's manifest: schema version, table names and the sanity rules the loader applies.

The rules (staleness threshold, placeholder prices, the largest believable $/GPU-hour, the names
catalogs use when they do not know the GPU) are data in `pricing/manifest.json`, not literals here.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from providers.errors import CatalogError
from providers.schema import CATALOG_SCHEMA_VERSION

MANIFEST = "manifest.json"


class Rules(BaseModel):
    """Sanity rules every offer table is checked against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_after_days: int = Field(gt=0, description="a table whose oldest row is older than this warns")
    placeholder_prices: list[float] = Field(description="USD/hour values catalogs use for 'no price'")
    max_usd_per_gpu_hour: float = Field(gt=0, description="above this a price is taken as a placeholder")
    generic_gpu_names: list[str] = Field(description="GPU names that say nothing; resolved by instance family")
    price_sum_tolerance_usd: float = Field(ge=0, description="host + GPU prices must add up to the total within this")
    gpu_memory_tolerance: float = Field(ge=0, lt=1, description="relative slack when comparing GB figures")

    def is_generic_gpu(self, name: str) -> bool:
        return name.strip().upper() in {g.upper() for g in self.generic_gpu_names}


class TableEntry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    file: str


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int
    tables: dict[str, TableEntry]
    rules: Rules

    def table_file(self, name: str) -> str:
        if name not in self.tables:
            raise CatalogError(f"{MANIFEST}: no table named {name!r}; add it under 'tables'")
        return self.tables[name].file


def pricing_dir() -> Path:
    """The bundled `pricing/` data folder (shipped as package data)."""
    return Path(str(resources.files("pricing")))


def load_manifest(folder: Path) -> Manifest:
    """Read and check `manifest.json` in a pricing folder."""
    path = folder / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: missing; a pricing folder needs a manifest.json (see pricing/README.md)") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}); fix the syntax") from None
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"{path}, field {where}: {first['msg']}; see pricing/README.md for the format") from None
    if manifest.schema_version != CATALOG_SCHEMA_VERSION:
        raise CatalogError(
            f"{path}, field schema_version: {manifest.schema_version} but this batchfit reads "
            f"{CATALOG_SCHEMA_VERSION}; use pricing data made for this version"
        )
    return manifest

"""Refreshed price tables on disk, in the user's cache directory, each with its fetch time.

Location: `$BATCHFIT_CACHE_DIR` if set, else `$XDG_CACHE_HOME/batchfit`, else `~/.cache/batchfit`.
One JSON file per registered source (`aws.json`, `azure.json`, `gpuhunt.json`, `skypilot.json`).
Writes go to a temporary file in the same directory and are moved into place with `os.replace`,
so a reader sees the old table or the new one, never half of one; a refresh that fails before the
write leaves the old file untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from providers.registry import REFRESHERS
from providers.textfile import write_text_atomically
from providers.schema import CATALOG_SCHEMA_VERSION, Offer, Origin, check_origin

ENV_DIR = "BATCHFIT_CACHE_DIR"


class CachedTable(BaseModel):
    """One refreshed table: where it came from, when it was fetched, and its offers."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CATALOG_SCHEMA_VERSION
    name: str = Field(description="source name and file stem, e.g. 'aws'")
    origin: Origin
    fetched_at: dt.datetime = Field(description="UTC time the source answered")
    offers: list[Offer]

    @field_validator("origin")
    @classmethod
    def _known_origin(cls, v: str) -> str:
        return check_origin(v)


def cache_dir() -> Path:
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "batchfit"


def table_path(name: str, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / f"{name}.json"


def write_table(table: CachedTable, directory: Path | None = None) -> Path:
    """Write atomically (temp file + fsync + os.replace); raises OSError when the directory is unusable."""
    target = table_path(table.name, directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(target, table.model_dump_json(indent=1))
    return target


def read_tables(directory: Path | None = None) -> tuple[list[CachedTable], list[str]]:
    """Every readable cached table, oldest fetch first: one `<name>.json` per registered refresher.

    The layers come from `providers.registry`: other files in the folder are not price tables, and a
    table whose origin is not its refresher's is refused. An unreadable file is skipped with a warning;
    inside a readable one, each offer is checked on its own, so one malformed row is dropped (with a
    warning naming it) rather than the whole table.
    """
    folder = directory or cache_dir()
    if not folder.is_dir():
        return [], []
    tables: list[CachedTable] = []
    warnings: list[str] = []
    for spec in REFRESHERS:
        path = table_path(spec.name, folder)
        if not path.exists():
            continue
        table, notes = _read_one(path)
        warnings += notes
        if table is not None and table.origin != spec.origin:
            warnings.append(f"{path}: ignored cached prices (origin {table.origin!r}, but {spec.name} writes "
                            f"{spec.origin!r}); refresh with `batchfit quotes --refresh {spec.name}`")
        elif table is not None:
            tables.append(table)
    tables.sort(key=lambda t: t.fetched_at)
    return tables, warnings


def _read_one(path: Path) -> tuple[CachedTable | None, list[str]]:
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"{path}: ignored cached prices ({exc.strerror}); delete it or refresh again"]
    except (ValueError, UnicodeDecodeError):
        return None, [f"{path}: ignored cached prices (not JSON); delete it or refresh again"]
    if not isinstance(raw, dict) or not isinstance(raw.get("offers"), list):
        return None, [f"{path}: ignored cached prices (not a batchfit price table); delete it or refresh again"]
    if raw.get("schema_version", CATALOG_SCHEMA_VERSION) != CATALOG_SCHEMA_VERSION:
        return None, [
            f"{path}: ignored cached prices (schema {raw.get('schema_version')}, expected "
            f"{CATALOG_SCHEMA_VERSION}); refresh again"
        ]
    offers: list[Offer] = []
    notes: list[str] = []
    for index, row in enumerate(raw["offers"], start=1):
        try:
            offers.append(Offer.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "row"
            notes.append(f"{path} offer {index}, field {field}: {first['msg']}; row dropped")
    try:
        table = CachedTable.model_validate({**raw, "offers": []})
    except ValidationError:
        return None, [f"{path}: ignored cached prices (not a batchfit price table); delete it or refresh again"]
    table.offers = offers
    return table, notes

"""Refreshed price tables on disk, in the user's cache directory, each with its fetch time.

Location: `$BATCHFIT_CACHE_DIR` if set, else `$XDG_CACHE_HOME/batchfit`, else `~/.cache/batchfit`.
One JSON file per source (`aws.json`, `azure.json`). Writes go to a temporary file in the same
directory and are moved into place with `os.replace`, so a reader sees the old table or the new one,
never half of one; a refresh that fails before the write leaves the old file untouched.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from providers.schema import CATALOG_SCHEMA_VERSION, Offer, Origin

ENV_DIR = "BATCHFIT_CACHE_DIR"


class CachedTable(BaseModel):
    """One refreshed table: where it came from, when it was fetched, and its offers."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CATALOG_SCHEMA_VERSION
    name: str = Field(description="source name and file stem, e.g. 'aws'")
    origin: Origin
    fetched_at: dt.datetime = Field(description="UTC time the source answered")
    offers: list[Offer]


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
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{table.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(table.model_dump_json(indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_tables(directory: Path | None = None) -> tuple[list[CachedTable], list[str]]:
    """Every readable cached table, oldest fetch first; unreadable files are skipped with a warning."""
    folder = directory or cache_dir()
    if not folder.is_dir():
        return [], []
    tables: list[CachedTable] = []
    warnings: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            table = CachedTable.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a batchfit price table"
            warnings.append(f"{path}: ignored cached prices ({reason}); delete it or refresh again")
            continue
        if table.schema_version != CATALOG_SCHEMA_VERSION:
            warnings.append(
                f"{path}: ignored cached prices (schema {table.schema_version}, expected "
                f"{CATALOG_SCHEMA_VERSION}); refresh again"
            )
            continue
        tables.append(table)
    tables.sort(key=lambda t: t.fetched_at)
    return tables, warnings

"""The cache of refreshed tables: where it lives, atomic writes, and tolerance of bad files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from providers import cache
from providers.cache import CachedTable, cache_dir, read_tables, write_table
from providers.schema import Offer

FETCHED = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


def table(price: float) -> CachedTable:
    offer = Offer(provider="aws", instance="g5.xlarge", region="us-east-1", market="on-demand", gpu="A10G-24GB",
                  gpu_count=1, price_per_hour=price, source="api", as_of=FETCHED.date(), origin="aws-api")
    return CachedTable(name="aws", origin="aws-api", fetched_at=FETCHED, offers=[offer])


def test_cache_dir_prefers_batchfit_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BATCHFIT_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("BATCHFIT_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "batchfit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "batchfit"


def test_a_written_table_reads_back_with_its_fetch_time(cache_dir: Path) -> None:
    path = write_table(table(1.006))
    assert path == cache_dir / "aws.json"
    (back,), warnings = read_tables()
    assert warnings == []
    assert back.fetched_at == FETCHED and back.offers[0].price_per_hour == 1.006
    assert [p.name for p in cache_dir.iterdir()] == ["aws.json"]


def test_a_write_that_fails_midway_leaves_the_old_table_and_no_temp_file(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_table(table(1.006))

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_table(table(2.0))
    (back,), _ = read_tables()
    assert back.offers[0].price_per_hour == 1.006
    assert [p.name for p in cache_dir.iterdir()] == ["aws.json"]


def test_a_missing_cache_dir_reads_as_empty(cache_dir: Path) -> None:
    assert not cache_dir.exists()
    assert read_tables() == ([], [])


def test_a_table_of_another_schema_version_is_ignored_with_a_warning(cache_dir: Path) -> None:
    stale = table(1.0).model_copy(update={"schema_version": 0})
    write_table(stale)
    tables, warnings = read_tables()
    assert tables == [] and "schema 0, expected 1" in warnings[0]


def test_the_replace_is_atomic_even_for_concurrent_readers(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_table(table(1.0))
    seen: list[float] = []
    real_replace = os.replace

    def spying_replace(src: str, dst: str) -> None:
        (current,), _ = read_tables()
        seen.append(current.offers[0].price_per_hour)
        real_replace(src, dst)

    monkeypatch.setattr(cache.os, "replace", spying_replace)
    write_table(table(2.0))
    (after,), _ = read_tables()
    assert seen == [1.0] and after.offers[0].price_per_hour == 2.0

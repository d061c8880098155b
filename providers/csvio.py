"""Reading CSV tables row by row with one-line errors that name the file, the line and the field.

Every parser here raises `CatalogError` with the shape
`<file> line <n>, field <name>: <what is wrong>; <how to fix it>`.
"""

from __future__ import annotations

import csv
import io
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

from providers.errors import CatalogError
from providers.textfile import FileProblem, read_text


class Row:
    """One data row of a CSV table, with enough context to blame a field precisely."""

    def __init__(self, display: str, line: int, values: dict[str, str]) -> None:
        self.display = display
        self.line = line
        self.values = values

    def fail(self, field: str, problem: str, fix: str) -> CatalogError:
        return CatalogError(f"{self.display} line {self.line}, field {field}: {problem}; {fix}")

    def text(self, field: str, *, required: bool = True) -> str:
        value = (self.values.get(field) or "").strip()
        if required and not value:
            raise self.fail(field, "is empty", "every row needs it (see pricing/README.md)")
        return value

    def number(self, field: str, unit: str, *, required: bool = True) -> float | None:
        raw = self.text(field, required=required)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(field, f"{raw!r} is not a number", f"give {unit}") from None
        if not math.isfinite(value):
            raise self.fail(field, f"{raw!r} is not a finite number", f"give {unit}")
        return value

    def positive(self, field: str, unit: str, *, required: bool = True) -> float | None:
        value = self.number(field, unit, required=required)
        if value is not None and value <= 0:
            raise self.fail(field, f"{value:g} is not positive", f"give {unit}")
        return value

    def integer(self, field: str, unit: str, *, required: bool = True, minimum: int = 1) -> int | None:
        raw = self.text(field, required=required)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(field, f"{raw!r} is not a whole number", f"give {unit}") from None
        if not value.is_integer() or value < minimum:
            raise self.fail(field, f"{raw!r} is not a whole number >= {minimum}", f"give {unit}")
        return int(value)

    def date(self, field: str, latest: dt.date | None = None) -> dt.date:
        """An ISO date; with `latest`, a later date is an error (a price cannot be seen in the future)."""
        raw = self.text(field)
        try:
            value = dt.date.fromisoformat(raw)
        except ValueError:
            raise self.fail(field, f"{raw!r} is not a date", "write it as YYYY-MM-DD") from None
        if latest is not None and value > latest:
            raise self.fail(field, f"{raw} is in the future (today is {latest})", "give the date the price was seen")
        return value

    def choice(self, field: str, allowed: tuple[str, ...]) -> str:
        raw = self.text(field)
        if raw not in allowed:
            raise self.fail(field, f"{raw!r} is not one of {', '.join(allowed)}", f"use one of {', '.join(allowed)}")
        return raw


def read_rows(path: Path, display: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Iterator[Row]:
    """Yield the data rows of a CSV file after checking its header against the known columns.
    UTF-8 with or without a BOM (Excel writes one), any line ending."""
    try:
        text = read_text(path)
    except FileProblem as exc:
        fix = "; check the path" if exc.missing else ""
        raise CatalogError(f"{display}: {'no such file' if exc.missing else exc}{fix}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        raw_header = reader.fieldnames
    except csv.Error as exc:
        raise CatalogError(f"{display} line 1: {exc}; fix the CSV quoting") from None
    header = [h.strip() for h in (raw_header or [])]
    if not header:
        raise CatalogError(f"{display} line 1: empty file; the first line must name the columns")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise CatalogError(f"{display} line 1, field {twice[0]}: the column appears twice; keep one")
    reader.fieldnames = header
    unknown = [h for h in header if h not in required + optional]
    if unknown:
        raise CatalogError(
            f"{display} line 1, field {unknown[0]}: unknown column; columns are {', '.join(required + optional)}"
        )
    missing = [h for h in required if h not in header]
    if missing:
        raise CatalogError(f"{display} line 1, field {missing[0]}: missing column; add it to the header")
    try:
        for values in reader:
            if None in values:
                raise CatalogError(
                    f"{display} line {reader.line_num}: more cells than columns; quote cells that contain commas"
                )
            if not any((v or "").strip() for v in values.values()):
                continue
            yield Row(display, reader.line_num, values)
    except csv.Error as exc:
        what = "a quote is never closed" if "unexpected end of data" in str(exc) else str(exc)
        raise CatalogError(f"{display} line {reader.line_num}: {what}; fix the CSV quoting") from None

"""The public throughput rows and their traced shapes (`pricing/throughput*.csv`), read and checked.

Each row is one published (or our own measured) training throughput of one model on one GPU;
each shape is what a CPU probe of that model reports. The prior fit (`calibration.py`) reads
both; `pricing/README.md` describes the columns and the sources.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from providers.catalog import load_gpu_specs
from providers.rules import load_manifest
from providers.rules import pricing_dir as bundled_pricing_dir
from providers.schema import GpuSpec

THROUGHPUT_SCHEMA_VERSION = 1
Harness = Literal["eager", "tuned", "layer"]
HARNESSES: tuple[Harness, ...] = ("eager", "tuned", "layer")
PRECISIONS = ("bf16", "fp16", "fp32")


class ThroughputDataError(ValueError):
    """A malformed throughput or shape table; the message names the file, line and fix."""


@dataclass(frozen=True)
class Shape:
    model: str
    family: str
    seq_len: int | None
    params: int
    param_tensors: int
    flops_per_sample: float  # forward + backward, as the probe counts them
    conv_fraction: float


@dataclass(frozen=True)
class ThroughputRow:
    line: int  # line in throughput.csv, for messages and as the row's id
    source: str
    model: str
    gpu: str
    gpu_count: int
    precision: str
    batch_per_gpu: int | None  # None: not stated by the source (read as device-bound)
    samples_per_s: float  # per GPU
    harness: Harness
    url: str
    as_of: dt.date

    @property
    def row_id(self) -> str:
        return f"{self.source}/{self.model}/{self.gpu}/{self.precision}/b{self.batch_per_gpu or 'device-bound'}"


@dataclass(frozen=True)
class ThroughputData:
    rows: list[ThroughputRow]
    shapes: dict[str, Shape]
    gpus: dict[str, GpuSpec]


def _field(raw: dict[str, str], name: str, where: str) -> str:
    value = (raw.get(name) or "").strip()
    if not value:
        raise ThroughputDataError(f"{where}, field {name}: empty; every row needs it (see pricing/README.md)")
    return value


def _number(raw: dict[str, str], name: str, where: str, kind: type[int | float] = float) -> float:
    text = _field(raw, name, where)
    try:
        value = kind(text)
    except ValueError:
        raise ThroughputDataError(f"{where}, field {name}: {text!r} is not a {kind.__name__}") from None
    if value < 0 or (name != "conv_fraction" and value == 0):
        raise ThroughputDataError(f"{where}, field {name}: {text} must be positive")
    return value


def _read(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise ThroughputDataError(f"{path}: missing; run bench/trace_shapes.py or restore it from git") from None


def read_shapes(path: Path) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for n, raw in enumerate(_read(path), start=2):
        where = f"{path.name} line {n}"
        seq = (raw.get("seq_len") or "").strip()
        shape = Shape(model=_field(raw, "model", where), family=_field(raw, "family", where),
                      seq_len=int(seq) if seq else None, params=int(_number(raw, "params", where, int)),
                      param_tensors=int(_number(raw, "param_tensors", where, int)),
                      flops_per_sample=_number(raw, "flops_per_sample", where),
                      conv_fraction=_number(raw, "conv_fraction", where))
        if shape.model in shapes:
            raise ThroughputDataError(f"{where}: model {shape.model!r} is listed twice; keep one row per shape")
        shapes[shape.model] = shape
    return shapes


def read_rows(path: Path, shapes: dict[str, Shape], gpus: dict[str, GpuSpec]) -> list[ThroughputRow]:
    rows: list[ThroughputRow] = []
    for n, raw in enumerate(_read(path), start=2):
        where = f"{path.name} line {n}"
        model, gpu = _field(raw, "model", where), _field(raw, "gpu", where)
        if model not in shapes:
            raise ThroughputDataError(f"{where}: model {model!r} has no shape; add it to bench/trace_shapes.py and run it")
        if gpu not in gpus:
            raise ThroughputDataError(f"{where}: gpu {gpu!r} is not in gpus.csv; use a name from it or add the GPU there")
        precision, harness = _field(raw, "precision", where), _field(raw, "harness", where)
        if precision not in PRECISIONS:
            raise ThroughputDataError(f"{where}, field precision: {precision!r}; use one of {', '.join(PRECISIONS)}")
        if harness not in HARNESSES:
            raise ThroughputDataError(f"{where}, field harness: {harness!r}; use one of {', '.join(HARNESSES)}")
        batch = (raw.get("batch_per_gpu") or "").strip()
        try:
            as_of = dt.date.fromisoformat(_field(raw, "as_of", where))
        except ValueError:
            raise ThroughputDataError(f"{where}, field as_of: not a YYYY-MM-DD date") from None
        rows.append(ThroughputRow(
            line=n, source=_field(raw, "source", where), model=model, gpu=gpu,
            gpu_count=int(_number(raw, "gpu_count", where, int)), precision=precision,
            batch_per_gpu=int(_number(raw, "batch_per_gpu", where, int)) if batch else None,
            samples_per_s=_number(raw, "samples_per_s_per_gpu", where), harness=harness,  # type: ignore[arg-type]
            url=_field(raw, "url", where), as_of=as_of))
    return rows


def load_throughput(pricing_dir: Path | None = None) -> ThroughputData:
    """Rows, shapes and GPU specs from a pricing folder (default: the bundled one)."""
    folder = pricing_dir or bundled_pricing_dir()
    manifest = load_manifest(folder)
    for table in ("throughput", "throughput_shapes"):
        version = getattr(manifest.tables.get(table), "schema_version", None) if table in manifest.tables else None
        if version != THROUGHPUT_SCHEMA_VERSION:
            raise ThroughputDataError(f"{folder / 'manifest.json'}: table {table!r} has schema_version {version}, "
                                      f"this batchfit reads {THROUGHPUT_SCHEMA_VERSION}; update batchfit or the table")
    gpus = load_gpu_specs(pricing_dir)
    shapes = read_shapes(folder / manifest.table_file("throughput_shapes"))
    return ThroughputData(rows=read_rows(folder / manifest.table_file("throughput"), shapes, gpus), shapes=shapes, gpus=gpus)

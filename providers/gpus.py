"""The GPU spec table (`pricing/gpus.csv`) and the instance-family table (`pricing/families.csv`).

Families let the loader name the GPU of an offer whose catalog only says "NVIDIA": the longest
matching instance prefix for the offer's provider wins (p5en. before p5.).
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ConfigDict

from providers.csvio import read_rows
from providers.errors import CatalogError
from providers.schema import GpuSpec, LinkKind

GPU_REQUIRED = (
    "name", "vendor", "generation", "memory_gb", "bandwidth_gbs", "bf16_tflops",
    "fp16_tflops", "fp32_tflops", "link", "link_gbs", "source", "as_of",
)
GPU_OPTIONAL = ("tf32_tflops",)  # empty or absent: no TF32 (pre-Ampere) or none used
FAMILY_COLUMNS = ("provider", "instance_prefix", "gpu", "source")


class Family(BaseModel):
    """Instances whose name starts with `prefix` at `provider` carry `gpu`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    prefix: str
    gpu: str


def read_gpus(path: Path, display: str) -> dict[str, GpuSpec]:
    """Parse the GPU spec table; BF16 may be empty (T4, V100 have none)."""
    specs: dict[str, GpuSpec] = {}
    for row in read_rows(path, display, GPU_REQUIRED, GPU_OPTIONAL):
        name = row.text("name")
        if name in specs:
            raise row.fail("name", f"{name!r} is listed twice", "keep one row per GPU")
        vendor = row.choice("vendor", ("nvidia", "amd"))
        link = row.choice("link", get_args(LinkKind))
        link_gbs = row.number("link_gbs", "GB/s per GPU, one direction (0 for none)")
        if link_gbs is not None and link_gbs < 0:
            raise row.fail("link_gbs", f"{link_gbs:g} is negative", "give GB/s per GPU, one direction (0 for none)")
        specs[name] = GpuSpec(
            name=name,
            vendor=vendor,  # type: ignore[arg-type]
            generation=row.text("generation"),
            memory_gb=row.positive("memory_gb", "GB of memory per GPU"),  # type: ignore[arg-type]
            bandwidth_gbs=row.positive("bandwidth_gbs", "memory bandwidth in GB/s"),  # type: ignore[arg-type]
            bf16_tflops=row.positive("bf16_tflops", "dense BF16 TFLOP/s, or leave empty", required=False),
            fp16_tflops=row.positive("fp16_tflops", "dense FP16 TFLOP/s"),  # type: ignore[arg-type]
            fp32_tflops=row.positive("fp32_tflops", "FP32 TFLOP/s"),  # type: ignore[arg-type]
            tf32_tflops=row.positive("tf32_tflops", "dense TF32 TFLOP/s, or leave empty", required=False),
            link=link,  # type: ignore[arg-type]
            link_gbs=link_gbs,  # type: ignore[arg-type]
            source=row.text("source"),
            as_of=row.date("as_of"),
        )
    if not specs:
        raise CatalogError(f"{display}: no GPUs listed; add one row per GPU model")
    return specs


def read_families(path: Path, display: str, gpus: dict[str, GpuSpec]) -> list[Family]:
    families: list[Family] = []
    for row in read_rows(path, display, FAMILY_COLUMNS, ()):
        gpu = row.text("gpu")
        if gpu not in gpus:
            raise row.fail("gpu", f"{gpu!r} is not in the GPU table", f"use one of {', '.join(sorted(gpus))}")
        row.text("source")
        families.append(Family(provider=row.text("provider").lower(), prefix=row.text("instance_prefix"), gpu=gpu))
    return families


def gpu_for_instance(families: list[Family], provider: str, instance: str) -> str | None:
    """The GPU of an instance by its family, or None when no family prefix matches."""
    matches = [f for f in families if f.provider == provider and instance.startswith(f.prefix)]
    if not matches:
        return None
    return max(matches, key=lambda f: len(f.prefix)).gpu

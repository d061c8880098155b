"""The price catalog's contracts: one GPU's ceilings, one rentable offer, and the catalog they form.

Prices are data (see `pricing/`), never literals in code. Every row carries where it came
from and the date it was true, so a plan can say how old its prices are.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers.registry import all_origins

CATALOG_SCHEMA_VERSION = 1

Market = Literal["on-demand", "spot"]
# Where a row came from: "bundled", "user", or a refresher's origin (providers.registry).
Origin = str
LinkKind = Literal["nvlink", "pcie", "infinity-fabric", "none"]
# How instances of one type reach each other (pricing/fabric.csv); "none": not clustered at all.
FabricKind = Literal["efa", "infiniband", "roce", "gpudirect-tcpx", "gpudirect-tcpxo", "tcp", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class GpuSpec(_Strict):
    """Dense (no sparsity) ceilings of one GPU model, per GPU."""

    name: str = Field(description="canonical name used by offers, e.g. 'H100-SXM-80GB'")
    vendor: Literal["nvidia", "amd"]
    generation: str = Field(description="architecture, e.g. hopper, ampere, ada, turing, volta")
    memory_gb: float = Field(gt=0, description="device memory per GPU, GB (1e9 bytes)")
    bandwidth_gbs: float = Field(gt=0, description="memory bandwidth per GPU, GB/s")
    bf16_tflops: float | None = Field(
        default=None, gt=0, description="dense BF16 tensor TFLOP/s; None where BF16 is not supported"
    )
    fp16_tflops: float = Field(gt=0, description="dense FP16 tensor TFLOP/s")
    fp32_tflops: float = Field(gt=0, description="plain FP32 (non-tensor) TFLOP/s")
    tf32_tflops: float | None = Field(
        default=None, gt=0, description="dense TF32 tensor TFLOP/s; None where TF32 is absent (pre-Ampere) or unused"
    )
    link: LinkKind = Field(description="GPU-to-GPU interconnect inside one instance")
    link_gbs: float = Field(ge=0, description="GPU-to-GPU bandwidth per GPU, GB/s, one direction")
    source: str
    as_of: dt.date

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * 1e9)

    def supports(self, precision: str) -> bool:
        """bf16 needs Ampere or later; fp16 and fp32 run everywhere."""
        return precision != "bf16" or self.bf16_tflops is not None

    def peak_tflops(self, precision: str, tf32: bool = False) -> float:
        """Dense ceiling of one training precision or unit ("tf32": the TF32 tensor cores).

        fp32 with `tf32` runs on TF32 tensor cores where the GPU has them. bf16 where the GPU
        has none reads the fp16 ceiling: the planner runs such a request in fp16 and says so
        (planner.plan.step_time.run_precision)."""
        if precision == "tf32" or (precision == "fp32" and tf32):
            return self.tf32_tflops if self.tf32_tflops is not None else self.fp32_tflops
        if precision == "fp32":
            return self.fp32_tflops
        if precision == "bf16" and self.bf16_tflops is not None:
            return self.bf16_tflops
        return self.fp16_tflops


class Offer(_Strict):
    """One instance type, in one region, in one market, at one hourly price."""

    provider: str = Field(description="lower-case provider id: aws, gcp, azure, lambda, ...")
    instance: str
    region: str = Field(description="provider region, or 'any' where the price is global")
    market: Market
    gpu: str = Field(description="GpuSpec.name")
    gpu_count: int = Field(ge=1)
    price_per_hour: float = Field(gt=0, description="USD per instance-hour, host and GPUs together")
    vcpus: int | None = Field(default=None, ge=1)
    ram_gb: float | None = Field(default=None, gt=0)
    billing_seconds: int = Field(
        default=1, ge=1, description="billing granularity in seconds (1 = per second, 3600 = per hour)"
    )
    source: str
    as_of: dt.date
    origin: Origin = "bundled"

    @field_validator("provider")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()

    @field_validator("origin")
    @classmethod
    def _known_origin(cls, v: str) -> str:
        return check_origin(v)

    @property
    def price_per_gpu_hour(self) -> float:
        return self.price_per_hour / self.gpu_count

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of an offer: a later table's row with the same key replaces an earlier one."""
        return (self.provider, self.instance, self.region, self.market)


class Fabric(_Strict):
    """Inter-node bandwidth of the instances whose name starts with `prefix` at `provider`."""

    provider: str
    prefix: str
    gbps: float = Field(ge=0, description="the whole instance's NICs for GPU traffic, Gb/s, one direction; "
                                          "0 with technology 'none'")
    technology: FabricKind
    source: str
    as_of: dt.date

    @property
    def clustered(self) -> bool:
        return self.technology != "none" and self.gbps > 0

    @property
    def bytes_per_s(self) -> float:
        return self.gbps * 1e9 / 8

    def describe(self) -> str:
        names = {"efa": "EFA", "infiniband": "InfiniBand", "roce": "RoCE", "gpudirect-tcpx": "GPUDirect-TCPX",
                 "gpudirect-tcpxo": "GPUDirect-TCPXO", "tcp": "TCP", "none": "no fabric"}
        return f"{self.gbps:,.0f} Gb/s {names[self.technology]}"


class PriceTable(_Strict):
    """Where one loaded table came from and how old it is."""

    name: str
    origin: Origin
    path: str
    as_of: dt.date = Field(description="the oldest row's date: the table is as fresh as its stalest price")
    rows: int
    schema_version: int = CATALOG_SCHEMA_VERSION

    @field_validator("origin")
    @classmethod
    def _known_origin(cls, v: str) -> str:
        return check_origin(v)


def check_origin(value: str) -> str:
    if value not in all_origins():
        raise ValueError(f"origin {value!r} is not one of {', '.join(all_origins())}")
    return value


class Catalog(BaseModel):
    """Offers and the GPUs they use, merged from every table in load order."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CATALOG_SCHEMA_VERSION
    gpus: dict[str, GpuSpec]
    offers: list[Offer]
    tables: list[PriceTable]
    warnings: list[str] = Field(default_factory=list)
    fabrics: list[Fabric] = Field(default_factory=list, description="pricing/fabric.csv: inter-node bandwidth")

    def gpu(self, name: str) -> GpuSpec:
        return self.gpus[name]

    def fabric(self, provider: str, instance: str) -> Fabric | None:
        return fabric_for(self.fabrics, provider, instance)

    def oldest_table_date(self) -> dt.date | None:
        return min((t.as_of for t in self.tables), default=None)


def fabric_for(fabrics: list[Fabric], provider: str, instance: str) -> Fabric | None:
    """The instance's fabric row: the longest matching prefix of its provider, None when none matches."""
    rows = [f for f in fabrics if f.provider == provider and instance.startswith(f.prefix)]
    return max(rows, key=lambda f: len(f.prefix)) if rows else None

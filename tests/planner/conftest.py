"""Hand-made probe reports and a small catalog, so planner arithmetic can be checked by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from planner.contracts import (
    DataInfo,
    DeviceInfo,
    MemoryFit,
    ModelInfo,
    PlanRequest,
    ProbePoint,
    ProbeReport,
    ProbeSettings,
    ReferenceRun,
    Software,
    Workload,
)
from providers.schema import Catalog, GpuSpec, Offer, PriceTable
from tests.gpu_specs import A100, H100, T4

DAY = dt.date(2026, 11, 1)


def offer(provider: str, instance: str, g: GpuSpec, n: int, price: float, market: str = "on-demand",
          region: str = "us-east-1") -> Offer:
    return Offer(provider=provider, instance=instance, region=region, market=market, gpu=g.name, gpu_count=n,
                 price_per_hour=price, source="test", as_of=DAY)


@pytest.fixture
def catalog() -> Catalog:
    offers = [
        offer("aws", "p5.48xlarge", H100, 8, 55.04),
        offer("aws", "p5.48xlarge", H100, 8, 20.0, market="spot"),
        offer("lambda", "gpu_1x_h100_sxm5", H100, 1, 3.29, region="any"),
        offer("gcp", "a2-highgpu-1g", A100, 1, 3.67, region="us-central1"),
        offer("aws", "g4dn.xlarge", T4, 1, 0.526),
    ]
    table = PriceTable(name="test", origin="bundled", path="test", as_of=DAY, rows=len(offers))
    return Catalog(gpus={g.name: g for g in (H100, A100, T4)}, offers=offers, tables=[table])


def make_report(points: list[ProbePoint], *, params: int = 100_000_000, flops_per_sample: float = 6e11,
                device: DeviceInfo | None = None, memory_fit: MemoryFit | None = None) -> ProbeReport:
    return ProbeReport(
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
        device=device or DeviceInfo(kind="cpu", name="test cpu", memory_bytes=8_000_000_000, memory_source="cap"),
        software=Software(python="3.11", torch="2.13", batchfit="0.1.0", platform="linux"),
        model=ModelInfo(id="test-model", params=params, trainable_params=params, seq_len=1000,
                        flops_per_sample=flops_per_sample, flops_provenance="measured",
                        data=DataInfo(kind="synthetic", source="test")),
        settings=ProbeSettings(precision="bf16", kernels="torch", optimizer="adamw", max_batch=None,
                               time_limit_s=60, memory_cap_bytes=8_000_000_000, warmup_steps=1, timed_steps=3,
                               plateau_gain=0.05),
        points=points,
        stop_reason="test",
        memory_fit=memory_fit,
    )


def point(batch: int, step_s: float, mem: int, status: str = "ok") -> ProbePoint:
    if status != "ok":
        return ProbePoint(batch_size=batch, status=status, reason="test")
    return ProbePoint(batch_size=batch, status="ok", step_time_s=step_s, step_time_min_s=step_s,
                      step_time_max_s=step_s, timed_steps=3, samples_per_s=batch / step_s,
                      peak_memory_bytes=mem, memory_provenance="measured")


@pytest.fixture
def report() -> ProbeReport:
    # memory: 2 GB static + 0.5 GB per sample; time: 0.1 s + 0.2 s per sample
    return make_report([point(1, 0.3, 2_500_000_000), point(2, 0.5, 3_000_000_000),
                        point(4, 0.9, 4_000_000_000), point(8, 0, 0, status="oom")])


@pytest.fixture
def request_() -> PlanRequest:
    return PlanRequest(model="test-model", workload=Workload(samples=1_000_000),
                       reference=ReferenceRun(batch_size=64, lr=1e-3, optimizer="adamw"))

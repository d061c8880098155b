"""Hand-made catalog, report and request, a fixed clock, a scripted probe runner, a message recorder.

A module of its own (not conftest) so tests can import these by a name no other test folder uses.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from textual.message import Message

from planner.contracts import (
    DataInfo,
    DeviceInfo,
    ModelInfo,
    PlanRequest,
    ProbePoint,
    ProbeReport,
    ProbeSettings,
    ReferenceRun,
    Software,
    Workload,
)
from planner.contracts.probe_config import ProbeEvent
from providers.schema import Catalog, GpuSpec, Offer, PriceTable
from tests.gpu_specs import A100, H100, T4
from tui.app import BatchfitApp
from tui.probe_job import EventSink, ProbeJob

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
PRICES_AS_OF = dt.date(2026, 10, 1)
OLD_PRICES_AS_OF = dt.date(2026, 5, 1)
PRESETS = ["mlp", "gpt-tiny"]

AppFactory = Callable[..., BatchfitApp]
"""make_app: keyword overrides of BatchfitApp's arguments -> an app with the fixtures and the fixed clock."""


def offer(provider: str, instance: str, g: GpuSpec, n: int, price: float, *, market: str = "on-demand",
          region: str = "us-east-1", as_of: dt.date = PRICES_AS_OF) -> Offer:
    return Offer(provider=provider, instance=instance, region=region, market=market, gpu=g.name, gpu_count=n,
                 price_per_hour=price, source=f"{provider} test table", as_of=as_of)


def make_catalog() -> Catalog:
    offers = [
        offer("aws", "p5.48xlarge", H100, 8, 55.04),
        offer("aws", "p5.48xlarge", H100, 8, 20.0, market="spot"),
        offer("aws", "g4dn.xlarge", T4, 1, 0.526),
        offer("aws", "g4dn.xlarge", T4, 1, 0.20, market="spot"),
        offer("lambda", "gpu_1x_h100_sxm5", H100, 1, 3.29, region="any"),
        offer("lambda", "gpu_8x_a100", A100, 8, 10.32, region="any"),
        offer("gcp", "a2-highgpu-1g", A100, 1, 3.67, region="us-central1", as_of=OLD_PRICES_AS_OF),
    ]
    table = PriceTable(name="test", origin="bundled", path="test.csv", as_of=OLD_PRICES_AS_OF, rows=len(offers))
    return Catalog(gpus={g.name: g for g in (H100, A100, T4)}, offers=offers, tables=[table])


def ok_point(batch: int, step_s: float, mem: int) -> ProbePoint:
    return ProbePoint(batch_size=batch, status="ok", step_time_s=step_s, step_time_min_s=step_s,
                      step_time_max_s=step_s, timed_steps=3, samples_per_s=batch / step_s,
                      peak_memory_bytes=mem, memory_provenance="measured")


def make_report(points: list[ProbePoint] | None = None, model_id: str = "mlp") -> ProbeReport:
    # memory: 2 GB static + 0.5 GB per sample; time: 0.1 s + 0.2 s per sample
    points = points if points is not None else [
        ok_point(1, 0.3, 2_500_000_000), ok_point(2, 0.5, 3_000_000_000), ok_point(4, 0.9, 4_000_000_000),
        ProbePoint(batch_size=8, status="oom", reason="memory cap"),
    ]
    return ProbeReport(
        created_at=NOW,
        device=DeviceInfo(kind="cpu", name="test cpu", memory_bytes=8_000_000_000, memory_source="cap"),
        software=Software(python="3.11", torch="2.13", batchfit="0.1.0", platform="linux"),
        model=ModelInfo(id=model_id, params=100_000_000, trainable_params=100_000_000, seq_len=None,
                        flops_per_sample=6e11, flops_provenance="measured",
                        data=DataInfo(kind="synthetic", source="test")),
        settings=ProbeSettings(precision="bf16", kernels="torch", optimizer="adamw", max_batch=None,
                               time_limit_s=60, memory_cap_bytes=8_000_000_000, warmup_steps=1, timed_steps=3,
                               plateau_gain=0.05),
        points=points,
        stop_reason="oom",
    )


def make_request(**changes: object) -> PlanRequest:
    request = PlanRequest(model="mlp", workload=Workload(samples=2_000_000),
                          reference=ReferenceRun(batch_size=64, lr=1e-3, optimizer="adamw"))
    return request.model_copy(update=changes)


@dataclass
class ScriptedProbe:
    """A probe runner that replays events; `gate` holds it after the first point until set (for cancel tests)."""

    report: ProbeReport = field(default_factory=make_report)
    hold_after_first_point: bool = False
    gate: threading.Event = field(default_factory=threading.Event)
    jobs: list[ProbeJob] = field(default_factory=list)
    failure: Exception | None = None

    def __call__(self, job: ProbeJob, on_event: EventSink, cancel: threading.Event) -> ProbeReport:
        self.jobs.append(job)
        if self.failure is not None:
            raise self.failure
        ok = self.report.ok_points()
        on_event(ProbeEvent(kind="started", text=f"{job.model} on test cpu", elapsed_s=0, fraction_done=0))
        measured: list[ProbePoint] = []
        for index, point in enumerate(self.report.points):
            on_event(ProbeEvent(kind="point-started", batch_size=point.batch_size, elapsed_s=index,
                                fraction_done=index / len(self.report.points), eta_s=10.0))
            kind = "oom" if point.status == "oom" else "point-done"
            on_event(ProbeEvent(kind=kind, batch_size=point.batch_size, point=point, elapsed_s=index + 0.5,
                                fraction_done=(index + 1) / len(self.report.points), eta_s=5.0))
            measured.append(point)
            if self.hold_after_first_point and index == 0:
                self.gate.wait(timeout=10)
            if cancel.is_set():
                on_event(ProbeEvent(kind="done", text="cancelled by the caller", elapsed_s=index + 1,
                                    fraction_done=1.0))
                return self.report.model_copy(update={"points": measured, "stop_reason": "cancelled"})
        on_event(ProbeEvent(kind="plateau", batch_size=ok[-1].batch_size, text="gain below 5%", elapsed_s=9,
                            fraction_done=1.0))
        on_event(ProbeEvent(kind="done", text="out of memory from B=8", elapsed_s=10, fraction_done=1.0))
        return self.report


class Recorder:
    """Collects every message the app processes (App.run_test's message_hook), each once:
    a bubbling message is handled by several widgets but is one posting."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._seen: set[int] = set()

    def __call__(self, message: Message) -> None:
        if id(message) not in self._seen:
            self._seen.add(id(message))
            self.messages.append(message)

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.messages if isinstance(m, kind)]

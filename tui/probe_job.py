"""What the probe screen runs: a ProbeJob made from the request and the screen's settings, and the runner.

`planner.probe` imports torch, so nothing here imports it at module level: the real runner
imports it inside the worker thread, and the app starts without torch. The runner is
injectable so tests can drive the screen with a scripted probe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

from planner.contracts.probe import KernelsChoice, ProbeReport
from planner.contracts.request import PlanRequest, Precision
from tui.request_form import FieldError, positive_float, positive_int

if TYPE_CHECKING:
    from planner.probe.config import ProbeEvent

Device = Literal["auto", "cpu", "cuda"]
EventSink = Callable[["ProbeEvent"], None]

DEVICES: tuple[Device, ...] = ("auto", "cpu", "cuda")
KERNELS: tuple[KernelsChoice, ...] = ("torch", "triton")
DEFAULT_TIME_LIMIT_S = 120.0


@dataclass(frozen=True)
class ProbeJob:
    """The fields of planner.probe.ProbeConfig that the screen sets; the rest keep their defaults."""

    model: str
    device: Device
    precision: Precision
    kernels: KernelsChoice
    max_batch: int | None
    time_limit_s: float


ProbeRunner = Callable[[ProbeJob, EventSink, threading.Event], ProbeReport]


def run_real_probe(job: ProbeJob, on_event: EventSink, cancel: threading.Event) -> ProbeReport:
    from planner.probe import ProbeConfig, run_probe  # torch and the models load here, in the worker thread

    return run_probe(ProbeConfig(**asdict(job)), on_event=on_event, cancel=cancel)


@dataclass
class ProbeSettings:
    """The screen's fields parsed: a job to run, or one message per field that is wrong."""

    job: ProbeJob | None
    errors: dict[str, str] = field(default_factory=dict)


def probe_settings(request: PlanRequest | None, values: Mapping[str, str]) -> ProbeSettings:
    """values: device, kernels, max_batch (empty = until OOM or plateau), time_limit (seconds, empty = default)."""
    if request is None:
        return ProbeSettings(None, {"model": "fill in the setup first (F1): the probe needs a model"})
    errors: dict[str, str] = {}
    max_batch: int | None = None
    time_limit = DEFAULT_TIME_LIMIT_S
    try:
        if values.get("max_batch", "").strip():
            max_batch = positive_int(values["max_batch"])
    except FieldError as exc:
        errors["max_batch"] = str(exc)
    try:
        if values.get("time_limit", "").strip():
            time_limit = positive_float(values["time_limit"])
    except FieldError as exc:
        errors["time_limit"] = str(exc)
    device, kernels = values.get("device", "auto"), values.get("kernels", "torch")
    if device not in DEVICES:
        errors["device"] = f"choose one of {', '.join(DEVICES)}"
    if kernels not in KERNELS:
        errors["kernels"] = f"choose one of {', '.join(KERNELS)}"
    if errors:
        return ProbeSettings(None, errors)
    return ProbeSettings(ProbeJob(
        model=request.model,
        device=device,  # type: ignore[arg-type]
        precision=request.precision,
        kernels=kernels,  # type: ignore[arg-type]
        max_batch=max_batch,
        time_limit_s=time_limit,
    ))

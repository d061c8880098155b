"""What the probe screen runs: a ProbeJob made from the request and the screen's settings, and the runner.

`planner.probe` imports torch, so nothing here imports it at module level: the real runner
imports it inside the worker thread, and the app starts without torch. The runner is
injectable so tests can drive the screen with a scripted probe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from planner.contracts.probe import KernelsChoice, ProbeReport
from planner.contracts.probe_config import ProbeConfig, ProbeEvent
from planner.contracts.request import PlanRequest, Precision
from tui.request_form import (
    FieldError,
    finite_float,
    non_negative_int,
    positive_float,
    positive_int,
)

Device = Literal["auto", "cpu", "cuda"]
EventSink = Callable[[ProbeEvent], None]

DEVICES: tuple[Device, ...] = ("auto", "cpu", "cuda")
KERNELS: tuple[KernelsChoice, ...] = ("torch", "triton")
DEFAULT_TIME_LIMIT_S: float = ProbeConfig.model_fields["time_limit_s"].default  # declared once, in the contract


@dataclass(frozen=True)
class ProbeJob:
    """The fields of planner.probe.ProbeConfig that the screen sets; the rest keep their defaults."""

    model: str
    device: Device
    precision: Precision
    kernels: KernelsChoice
    max_batch: int | None
    time_limit_s: float
    seq_len: int | None
    memory_cap_bytes: int | None
    nproc: int
    noise_steps: int
    noise_train_steps: int
    noise_target_loss: float | None
    noise_lr: float | None


ProbeRunner = Callable[[ProbeJob, EventSink, threading.Event], ProbeReport]


def run_real_probe(job: ProbeJob, on_event: EventSink, cancel: threading.Event) -> ProbeReport:
    from planner.probe.sweep import (
        run_probe,  # torch and the models load here, in the worker thread
    )

    return run_probe(ProbeConfig(**asdict(job)), on_event=on_event, cancel=cancel)


def memory_cap_bytes(text: str) -> int:
    """GB as the CLI's --memory-cap takes them (1e9 bytes) -> the bytes ProbeConfig takes."""
    cap = positive_float(text) * 1e9
    if not 1 <= cap < 2**63:  # ProbeConfig needs a byte at least; far beyond any RAM, int() of inf would raise
        raise FieldError("must lie between 1e-9 and 9e9 GB")
    return int(cap)


@dataclass(frozen=True)
class SettingSpec:
    """One text setting of the screen: empty text means the probe's default, which the placeholder names."""

    id: str
    label: str
    parse: Callable[[str], object]
    placeholder: str


SETTINGS: dict[str, SettingSpec] = {
    spec.id: spec
    for spec in (
        SettingSpec("max_batch", "Max batch", positive_int, "until OOM"),
        SettingSpec("time_limit", "Limit s", positive_float, f"{DEFAULT_TIME_LIMIT_S:g}"),
        SettingSpec("seq_len", "Seq len", positive_int, "preset's"),
        SettingSpec("memory_cap", "CPU mem GB", memory_cap_bytes, "RAM/2, max 8.6"),
        SettingSpec("nproc", "DDP ranks", positive_int, "1: off"),
        SettingSpec("noise_steps", "Noise steps", non_negative_int, "0: off"),
        SettingSpec("noise_train_steps", "Train steps", non_negative_int, "0"),
        SettingSpec("noise_target_loss", "Target loss", finite_float, "none"),
        SettingSpec("noise_lr", "Noise lr", positive_float, "1e-4"),
    )
}


@dataclass
class ProbeSettings:
    """The screen's fields parsed: a job to run, or one message per field that is wrong."""

    job: ProbeJob | None
    errors: dict[str, str] = field(default_factory=dict)


FLAG_FIELDS = {"--device": "Device", "--kernels": "Kernels", "--max-batch": "Max batch", "--time-limit": "Limit s",
               "--seq-len": "Seq len", "--memory-cap": "CPU mem GB", "--nproc": "DDP ranks",
               "--noise-steps": "Noise steps", "--noise-train-steps": "Train steps",
               "--noise-target-loss": "Target loss", "--noise-lr": "Noise lr"}
"""The probe's messages name its CLI flags; on this screen the same settings are these fields."""
FLAG = re.compile(r"(--[a-z][a-z-]*)(?: (cpu|cuda|auto|torch|triton)\b)?")


def screen_words(text: str) -> str:
    """'use --device cpu or auto' -> 'use Device cpu or auto': the field a user can change here."""
    def word(match: re.Match[str]) -> str:
        label = FLAG_FIELDS.get(match.group(1))
        if label is None:
            return match.group(0)
        return f"{label} {match.group(2)}" if match.group(2) else label

    return FLAG.sub(word, text)


def error_line(errors: Mapping[str, str]) -> str:
    """Every message in one line, each after the label its field has on the screen."""
    return "; ".join(f"{SETTINGS[k].label if k in SETTINGS else k.capitalize()}: {message}"
                     for k, message in errors.items())


def _parsed(values: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """Each setting's value, None where its text is empty; a setting that does not parse is left out."""
    out: dict[str, Any] = {}
    for field_id, spec in SETTINGS.items():
        text = values.get(field_id, "").strip()
        try:
            out[field_id] = spec.parse(text) if text else None
        except FieldError as exc:
            errors[field_id] = str(exc)
    return out


def _check_noise(p: Mapping[str, Any], errors: dict[str, str]) -> None:
    """ProbeConfig's rules for the noise phase, here too so they show beside the fields as they are typed:
    ProbeConfig lives in planner.probe, which imports torch."""
    if "noise_steps" in errors or "noise_train_steps" in errors:
        return
    steps, train_steps = p["noise_steps"] or 0, p["noise_train_steps"] or 0
    if train_steps and not steps:
        errors["noise_train_steps"] = "needs Noise steps above 0 (it trains before them)"
    if p.get("noise_target_loss") is not None:
        if not steps:
            errors["noise_target_loss"] = "needs Noise steps above 0 (it ends the training before them)"
        elif not train_steps:
            errors["noise_target_loss"] = "needs Train steps above 0, the most steps to train towards it"


def probe_settings(request: PlanRequest | None, values: Mapping[str, str]) -> ProbeSettings:
    """values: device, kernels and the text of each of SETTINGS (empty = the probe's default)."""
    errors: dict[str, str] = {}
    if request is None:
        errors["model"] = "fill in the setup first (F1): the probe needs a model"
    p = _parsed(values, errors)
    _check_noise(p, errors)
    device, kernels = values.get("device", "auto"), values.get("kernels", "torch")
    if device not in DEVICES:
        errors["device"] = f"choose one of {', '.join(DEVICES)}"
    if kernels not in KERNELS:
        errors["kernels"] = f"choose one of {', '.join(KERNELS)}"
    if request is None or errors:
        return ProbeSettings(None, errors)
    job = ProbeJob(
        model=request.model,
        device=device,  # type: ignore[arg-type]
        precision=request.precision,
        kernels=kernels,  # type: ignore[arg-type]
        max_batch=p["max_batch"],
        time_limit_s=p["time_limit"] or DEFAULT_TIME_LIMIT_S,
        seq_len=p["seq_len"],
        memory_cap_bytes=p["memory_cap"],
        nproc=p["nproc"] or 1,
        noise_steps=p["noise_steps"] or 0,
        noise_train_steps=p["noise_train_steps"] or 0,
        noise_target_loss=p["noise_target_loss"],
        noise_lr=p["noise_lr"],
    )
    try:  # the probe's own model has the last word: the rules above only place messages beside fields
        ProbeConfig.model_validate(asdict(job))
    except ValidationError as exc:
        error = exc.errors()[0]
        field_id = str(error["loc"][0]) if error["loc"] else "model"
        key = {"time_limit_s": "time_limit", "memory_cap_bytes": "memory_cap"}.get(field_id, field_id)
        return ProbeSettings(None, {key: str(error["msg"]).removeprefix("Value error, ")})
    return ProbeSettings(job)

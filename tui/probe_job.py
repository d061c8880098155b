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


def probe_settings(request: PlanRequest | None, values: Mapping[str, str]) -> ProbeSettings:
    """values: device, kernels and the text of each of SETTINGS (empty = the probe's default).

    Each text is parsed here (a number, in the field's unit); the rules between settings are
    ProbeConfig's own, applied by validating the job with it, each error shown beside its field."""
    errors: dict[str, str] = {}
    if request is None:
        errors["model"] = "fill in the setup first (F1): the probe needs a model"
    p = _parsed(values, errors)
    device, kernels = values.get("device", "auto"), values.get("kernels", "torch")
    if device not in DEVICES:
        errors["device"] = f"choose one of {', '.join(DEVICES)}"
    if kernels not in KERNELS:
        errors["kernels"] = f"choose one of {', '.join(KERNELS)}"
    if set(errors) - {"model"}:
        return ProbeSettings(None, errors)
    job = ProbeJob(
        model=request.model if request is not None else "",  # without a setup the other rules still show
        device=device,  # type: ignore[arg-type]
        precision=request.precision if request is not None else "fp32",
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
    try:
        ProbeConfig.model_validate(asdict(job))
    except ValidationError as exc:
        for key, message in config_errors(exc).items():
            errors.setdefault(key, message)
    return ProbeSettings(None if errors else job, errors)


# ProbeConfig's field -> this screen's field id, where they differ.
SCREEN_IDS = {"time_limit_s": "time_limit", "memory_cap_bytes": "memory_cap"}


def config_errors(exc: ValidationError) -> dict[str, str]:
    """ProbeConfig's complaints, one per screen field, in the screen's words: 'needs noise_steps > 0'
    beside Train steps reads 'needs Noise steps > 0'."""
    labels = {name: SETTINGS[SCREEN_IDS.get(name, name)].label for name in ProbeConfig.model_fields
              if SCREEN_IDS.get(name, name) in SETTINGS}
    out: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "model"
        message = str(error["msg"]).removeprefix("Value error, ")
        for field_name in sorted(labels, key=len, reverse=True):  # noise_train_steps before noise_steps
            message = message.replace(field_name, labels[field_name])
        out.setdefault(SCREEN_IDS.get(name, name), message)
    return out

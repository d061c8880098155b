"""The setup form as plain data: field texts in, a PlanRequest or per-field messages out.

No Textual here, so the rules are testable without an app and the screen only wires widgets to
them. Every message is one line that fits beside its field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from planner.contracts.request import PlanRequest, Workload
from planner.contracts.trainable import canonical
from tui.contract_fields import AMOUNT_CONTRACTS, FIELD_CONTRACTS, contract_message

FACTORY_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
PRESET_PATTERN = re.compile(r"^[A-Za-z][\w.-]*$")
WORKLOAD_KINDS = tuple(AMOUNT_CONTRACTS)

FormValues = Mapping[str, str]
"""Field id -> the text in its widget. Selects give their value; the spot switch gives 'yes' or 'no'."""


class FieldError(ValueError):
    """A field's text cannot become a value; the message is shown beside the field."""


def _number(text: str) -> float:
    try:
        value = float(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise FieldError("not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldError("not a finite number")
    return value


def finite_float(text: str) -> float:
    """Any finite number: a target loss, which some losses put below 0."""
    return _number(text)


def positive_int(text: str) -> int:
    value = _number(text)
    if value != int(value) or value <= 0:
        raise FieldError("must be a whole number above 0")
    return int(value)


def non_negative_int(text: str) -> int:
    value = _number(text)
    if value != int(value) or value < 0:
        raise FieldError("must be a whole number, 0 or more")
    return int(value)


def positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise FieldError("must be above 0")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise FieldError("must be 0 or more")
    return value


def unit_interval(text: str) -> float:
    value = _number(text)
    if not 0 <= value < 1:
        raise FieldError("must lie in [0, 1)")
    return value


def betas(text: str) -> tuple[float, float]:
    parts = [p for p in re.split(r"[\s,]+", text.strip("() ")) if p]
    if len(parts) != 2:
        raise FieldError("two numbers, e.g. 0.9, 0.999")
    b1, b2 = (unit_interval(p) for p in parts)
    return b1, b2


def name_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise FieldError("comma-separated names, or leave empty for all")
    return names


def trainable(text: str) -> str:
    """A --trainable spec in its one spelling (planner/contracts/trainable.py says what it accepts)."""
    try:
        return canonical(text)
    except ValueError as exc:
        raise FieldError(str(exc)) from None


def model_ref(text: str, presets: Collection[str]) -> str:
    """A preset name, or package.module:factory (only its shape is checked: importing runs user code).

    With no presets known yet (they load in the background), any preset-like name passes for now.
    """
    name = text.strip()
    if not name:
        raise FieldError("choose a preset or type package.module:factory")
    if name in presets or FACTORY_PATTERN.match(name) or (not presets and PRESET_PATTERN.match(name)):
        return name
    if presets:
        raise FieldError(f"unknown preset; use {', '.join(sorted(presets))} or package.module:factory")
    raise FieldError("expected a preset name or package.module:factory")


@dataclass(frozen=True)
class FieldSpec:
    """One form field: the parser for its text, and whether empty text means 'not given'."""

    id: str
    label: str
    parse: Callable[[str], object]
    optional: bool = False
    placeholder: str = ""


SPECS: dict[str, FieldSpec] = {
    spec.id: spec
    for spec in (
        FieldSpec("amount", "Amount", positive_float, placeholder="samples, tokens or epochs"),
        FieldSpec("dataset_size", "Dataset size", positive_int, optional=True, placeholder="samples per epoch"),
        FieldSpec("ref_batch", "Batch size", positive_int, placeholder="e.g. 64"),
        FieldSpec("ref_lr", "Learning rate", positive_float, placeholder="e.g. 3e-4"),
        FieldSpec("betas", "Betas", betas, optional=True, placeholder="0.9, 0.999"),
        FieldSpec("eps", "Epsilon", positive_float, optional=True, placeholder="1e-8"),
        FieldSpec("momentum", "Momentum", unit_interval, optional=True, placeholder="SGD only, e.g. 0.9"),
        FieldSpec("weight_decay", "Weight decay", non_negative_float, optional=True, placeholder="e.g. 0.1"),
        FieldSpec("warmup_steps", "Warmup steps", non_negative_int, optional=True, placeholder="e.g. 500"),
        FieldSpec("budget", "Budget (USD)", positive_float, optional=True, placeholder="no limit"),
        FieldSpec("deadline", "Deadline (h)", positive_float, optional=True, placeholder="no limit"),
        FieldSpec("providers", "Providers", name_list, optional=True, placeholder="all, or aws, gcp, ..."),
        FieldSpec("regions", "Regions", name_list, optional=True, placeholder="all, or us-east-1, ..."),
        FieldSpec("max_gpus", "Max GPUs", positive_int, placeholder="8"),
        FieldSpec("max_nodes", "Max nodes", positive_int, optional=True, placeholder="16"),
        FieldSpec("gpus", "GPUs", name_list, optional=True, placeholder="all, or H100-SXM-80GB, ..."),
        FieldSpec("trainable", "Trains", trainable, optional=True, placeholder="full, lora:r=16, qlora:r=16, 0.05"),
        FieldSpec("noise_scale", "Noise scale", positive_float, optional=True,
                  placeholder="B_noise near your target loss; empty: the probe's"),
    )
}


def check_field(field_id: str, text: str) -> str | None:
    """The message for one field's text on its own, or None when it parses."""
    spec = SPECS[field_id]
    if not text.strip():
        return None if spec.optional else "required"
    try:
        value = spec.parse(text.strip())
    except FieldError as exc:
        return str(exc)
    return contract_message(*FIELD_CONTRACTS[field_id], value) if field_id in FIELD_CONTRACTS else None


def same_value(field_id: str, old_text: str, new_text: str) -> bool:
    """Whether two texts of a field mean the same value (`2e10` and `20000000000`): the user's notation stays."""
    if old_text.strip() == new_text.strip():
        return True
    spec = SPECS.get(field_id)
    if spec is None or not old_text.strip() or not new_text.strip():
        return False
    try:
        return spec.parse(old_text.strip()) == spec.parse(new_text.strip())
    except FieldError:
        return False


@dataclass
class FormResult:
    request: PlanRequest | None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Choices:
    """What the form checks names against; empty collections mean 'not known yet: accept any'."""

    presets: Collection[str] = ()
    providers: Collection[str] = ()
    regions: Collection[str] = ()


def _parsed(values: FormValues, errors: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for field_id, spec in SPECS.items():
        text = values.get(field_id, "").strip()
        if not text:
            if not spec.optional:
                errors[field_id] = "required"
            out[field_id] = None
            continue
        try:
            out[field_id] = spec.parse(text)
        except FieldError as exc:
            errors[field_id] = str(exc)
            continue
        if field_id in FIELD_CONTRACTS:
            message = contract_message(*FIELD_CONTRACTS[field_id], out[field_id])
            if message:
                errors[field_id] = message
    return out


def _workload(kind: str, p: dict[str, object], errors: dict[str, str]) -> Workload | None:
    amount, dataset_size = p.get("amount"), p.get("dataset_size")
    if "amount" in errors:
        return None
    whole = amount == int(amount)  # type: ignore[call-overload]
    if kind == "epochs" or whole:
        value = amount if kind == "epochs" else int(amount)  # type: ignore[call-overload]
        message = contract_message(*AMOUNT_CONTRACTS.get(kind, AMOUNT_CONTRACTS["samples"]), value)
        if message:
            errors["amount"] = message
            return None
    if kind == "epochs":
        if dataset_size is None:
            errors.setdefault("dataset_size", "required for epochs")
            return None
        return Workload.model_validate({"epochs": amount, "dataset_size": dataset_size})
    if amount != int(amount):  # type: ignore[call-overload]
        errors["amount"] = f"{kind} must be a whole number"
        return None
    return Workload(**{kind: int(amount)})  # type: ignore[call-overload]


def _unknown(names: object, known: Collection[str], what: str) -> str | None:
    if not known or not isinstance(names, list):
        return None
    unknown = [n for n in names if n.lower() not in {k.lower() for k in known}]
    if unknown:
        return f"unknown {what} {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
    return None


def _first_pydantic_error(exc: ValidationError) -> tuple[str, str]:
    """Map pydantic's first error to the field that shows it."""
    e = exc.errors()[0]
    loc = [str(x) for x in e["loc"]]
    by_name = {"batch_size": "ref_batch", "lr": "ref_lr", "samples": "amount", "tokens": "amount",
               "epochs": "amount", "budget_usd": "budget", "deadline_hours": "deadline"}
    target = next((by_name.get(part, part) for part in reversed(loc) if by_name.get(part, part) in SPECS), "amount")
    return target, str(e["msg"]).removeprefix("Value error, ")


def request_from_form(values: FormValues, choices: Choices = Choices(), kept: PlanRequest | None = None) -> FormResult:
    """The request the form's texts make. Settings the form has no field for (--target-loss,
    --layouts, ...) are taken from `kept`, the request the form was filled from, so editing a loaded
    request file keeps them."""
    errors: dict[str, str] = {}
    try:
        model = model_ref(values.get("model", ""), choices.presets)
    except FieldError as exc:
        errors["model"] = str(exc)
        model = ""
    p = _parsed(values, errors)
    kind = values.get("workload_kind", "samples")
    workload = _workload(kind, p, errors)
    for field_id, known, what in (("providers", choices.providers, "provider"), ("regions", choices.regions, "region")):
        message = _unknown(p.get(field_id), known, what)
        if message:
            errors[field_id] = message
    if errors or workload is None:
        return FormResult(None, errors)
    try:
        hidden = kept.model_dump(exclude={"schema_version"}) if kept is not None else {}
        request = PlanRequest.model_validate(hidden | {  # the contract checks the whole, as it does a request file
            "model": model,
            "workload": workload,
            "reference": {
                "batch_size": p["ref_batch"], "lr": p["ref_lr"], "optimizer": values.get("optimizer", "adamw"),
                "betas": p["betas"], "eps": p["eps"], "momentum": p["momentum"],
                "weight_decay": p["weight_decay"], "warmup_steps": p["warmup_steps"],
            },
            "budget_usd": p["budget"],
            "deadline_hours": p["deadline"],
            "precision": values.get("precision", "bf16"),
            "providers": p["providers"],
            "regions": p["regions"],
            "spot": values.get("spot") == "yes",
            "max_gpus": p["max_gpus"],
            "max_nodes": p["max_nodes"] or PlanRequest.model_fields["max_nodes"].default,
            "gpus": p["gpus"],
            "trainable": p["trainable"] or PlanRequest.model_fields["trainable"].default,
            "noise_scale": p["noise_scale"],
        })
    except ValidationError as exc:
        field_id, message = _first_pydantic_error(exc)
        return FormResult(None, {field_id: message})
    return FormResult(request)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def form_from_request(request: PlanRequest) -> dict[str, str]:
    """The texts that, typed into the form, give back this request."""
    w, r = request.workload, request.reference
    kind = "epochs" if w.epochs is not None else "tokens" if w.tokens is not None else "samples"
    amount = w.epochs if kind == "epochs" else w.tokens if kind == "tokens" else w.samples
    return {
        "model": request.model,
        "workload_kind": kind,
        "amount": _text(amount),
        "dataset_size": _text(w.dataset_size),
        "ref_batch": _text(r.batch_size),
        "ref_lr": _text(r.lr),
        "optimizer": r.optimizer,
        "betas": _text(r.betas),
        "eps": _text(r.eps),
        "momentum": _text(r.momentum),
        "weight_decay": _text(r.weight_decay),
        "warmup_steps": _text(r.warmup_steps),
        "budget": _text(request.budget_usd),
        "deadline": _text(request.deadline_hours),
        "precision": request.precision,
        "providers": _text(request.providers),
        "regions": _text(request.regions),
        "spot": "yes" if request.spot else "no",
        "max_gpus": _text(request.max_gpus),
        "max_nodes": _text(request.max_nodes),
        "gpus": _text(request.gpus),
        "trainable": "" if request.trainable == "full" else request.trainable,
        "noise_scale": _text(request.noise_scale),
    }


LIMIT_FIELDS = ("budget", "deadline", "providers")


def with_limits(request: PlanRequest, values: FormValues, choices: Choices = Choices()) -> FormResult:
    """The request with new budget, deadline, providers and spot, for re-planning without the full form."""
    errors: dict[str, str] = {}
    update: dict[str, object] = {}
    for field_id in LIMIT_FIELDS:
        message = check_field(field_id, values.get(field_id, ""))
        if message:
            errors[field_id] = message
            continue
        text = values.get(field_id, "").strip()
        update[field_id] = SPECS[field_id].parse(text) if text else None
    message = _unknown(update.get("providers"), choices.providers, "provider")
    if message:
        errors["providers"] = message
    if errors:
        return FormResult(None, errors)
    try:  # validated like any request: a model copy with updates would skip the checks
        return FormResult(PlanRequest.model_validate(request.model_dump() | {
            "budget_usd": update["budget"],
            "deadline_hours": update["deadline"],
            "providers": update["providers"],
            "spot": values.get("spot") == "yes",
        }))
    except ValidationError as exc:
        error = exc.errors()[0]
        field_id = {"budget_usd": "budget", "deadline_hours": "deadline"}.get(str(error["loc"][0]), "budget")
        return FormResult(None, {field_id: str(error["msg"]).removeprefix("Value error, ")})

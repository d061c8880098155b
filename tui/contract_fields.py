"""The form's fields checked by the contracts' own fields: a range stated once on PlanRequest shows here.

Each form field names the contract field it fills; its parsed value is validated against that
field's type and bounds (pydantic's TypeAdapter over the FieldInfo), so the form says at once,
beside the field, what the contract would refuse when the whole request is built.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError

from planner.contracts.request import (
    OptimizerFamily,
    PlanRequest,
    Precision,
    ReferenceRun,
    Workload,
)

FIELD_CONTRACTS: dict[str, tuple[type[BaseModel], str]] = {
    "dataset_size": (Workload, "dataset_size"),
    "ref_batch": (ReferenceRun, "batch_size"),
    "ref_lr": (ReferenceRun, "lr"),
    "eps": (ReferenceRun, "eps"),
    "momentum": (ReferenceRun, "momentum"),
    "weight_decay": (ReferenceRun, "weight_decay"),
    "warmup_steps": (ReferenceRun, "warmup_steps"),
    "budget": (PlanRequest, "budget_usd"),
    "deadline": (PlanRequest, "deadline_hours"),
    "max_gpus": (PlanRequest, "max_gpus"),
    "max_nodes": (PlanRequest, "max_nodes"),
    "noise_scale": (PlanRequest, "noise_scale"),
}
AMOUNT_CONTRACTS = {kind: (Workload, kind) for kind in ("samples", "tokens", "epochs")}
"""The amount field fills the workload's samples, tokens or epochs, as the kind says."""
def _default_first(choices: tuple[str, ...], default: object) -> tuple[str, ...]:
    """A select shows its first option on a fresh form: the contract's default."""
    return tuple(sorted(choices, key=lambda c: c != default))


OPTIMIZERS = _default_first(get_args(OptimizerFamily), ReferenceRun.model_fields["optimizer"].default)
PRECISIONS = _default_first(get_args(Precision), PlanRequest.model_fields["precision"].default)


@cache
def _adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]  # built at run time


def contract_message(model: type[BaseModel], name: str, value: object) -> str | None:
    """What the contract says of `value` for its field, in the form's words; None when it is accepted."""
    try:
        _adapter(model, name).validate_python(value)
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        return message.replace("Input should be", "must be", 1)
    return None

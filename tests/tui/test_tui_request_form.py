"""The form rules without an app: texts in, a PlanRequest or one message per field out."""

from __future__ import annotations

import pytest

from planner.contracts.request import PlanRequest, ReferenceRun, Workload
from tui.request_form import (
    Choices,
    check_field,
    form_from_request,
    request_from_form,
    with_limits,
)

CHOICES = Choices(presets=("mlp", "gpt-tiny"), providers=("aws", "gcp"), regions=("us-east-1", "any"))


def valid_values(**changes: str) -> dict[str, str]:
    values = {
        "model": "gpt-tiny", "workload_kind": "tokens", "amount": "1e9", "dataset_size": "", "ref_batch": "64",
        "ref_lr": "6e-4", "optimizer": "adamw", "betas": "0.9, 0.95", "eps": "1e-8", "momentum": "",
        "weight_decay": "0.1", "warmup_steps": "2000", "budget": "500", "deadline": "24", "precision": "bf16",
        "providers": "aws", "regions": "", "spot": "yes", "max_gpus": "16",
    }
    values.update(changes)
    return values


def test_a_full_form_becomes_a_request() -> None:
    result = request_from_form(valid_values(), CHOICES)
    assert result.errors == {}
    assert result.request == PlanRequest(
        model="gpt-tiny", workload=Workload(tokens=1_000_000_000),
        reference=ReferenceRun(batch_size=64, lr=6e-4, optimizer="adamw", betas=(0.9, 0.95), eps=1e-8,
                               weight_decay=0.1, warmup_steps=2000),
        budget_usd=500, deadline_hours=24, precision="bf16", providers=["aws"], spot=True, max_gpus=16)


@pytest.mark.parametrize(("field", "text", "message"), [
    ("ref_batch", "0", "must be a whole number above 0"),
    ("ref_batch", "2.5", "must be a whole number above 0"),
    ("ref_lr", "-1", "must be above 0"),
    ("ref_lr", "nan", "not a finite number"),
    ("betas", "0.9", "two numbers, e.g. 0.9, 0.999"),
    ("betas", "0.9, 1.0", "must lie in [0, 1)"),
    ("warmup_steps", "-3", "must be a whole number, 0 or more"),
    ("budget", "0", "must be above 0"),
    ("max_gpus", "", "required"),
    ("amount", "1.5", "tokens must be a whole number"),
    ("model", "my_models:", "unknown preset; use gpt-tiny, mlp or package.module:factory"),
    ("providers", "aws, azure", "unknown provider azure; choose from aws, gcp"),
    ("regions", "eu-west-1", "unknown region eu-west-1; choose from any, us-east-1"),
])
def test_each_bad_field_gets_its_own_message(field: str, text: str, message: str) -> None:
    result = request_from_form(valid_values(**{field: text}), CHOICES)
    assert result.request is None
    assert result.errors == {field: message}


def test_cross_field_rules() -> None:
    epochs = request_from_form(valid_values(workload_kind="epochs", amount="2.5"), CHOICES)
    assert epochs.errors == {"dataset_size": "required for epochs"}
    ok = request_from_form(valid_values(workload_kind="epochs", amount="2.5", dataset_size="1,000,000"), CHOICES)
    assert ok.request is not None and ok.request.workload == Workload(epochs=2.5, dataset_size=1_000_000)


def test_factory_paths_are_accepted_by_shape_without_importing() -> None:
    result = request_from_form(valid_values(model="my_pkg.models:build"), CHOICES)
    assert result.request is not None and result.request.model == "my_pkg.models:build"


def test_check_field_alone() -> None:
    assert check_field("budget", "") is None
    assert check_field("ref_lr", "") == "required"
    assert check_field("eps", "1e-8") is None


def test_form_and_request_round_trip() -> None:
    request = request_from_form(valid_values(), CHOICES).request
    assert request is not None
    assert request_from_form(form_from_request(request), CHOICES).request == request
    awkward = request.model_copy(update={"budget_usd": 123.456789123, "deadline_hours": None})
    assert request_from_form(form_from_request(awkward), CHOICES).request == awkward
    measured = request.model_copy(update={"noise_scale": 1937.0})
    assert request_from_form(form_from_request(measured), CHOICES).request == measured
    assert check_field("noise_scale", "-3") is not None


def test_with_limits_changes_only_the_limits() -> None:
    request = request_from_form(valid_values(), CHOICES).request
    assert request is not None
    result = with_limits(request, {"budget": "", "deadline": "2", "providers": "gcp", "spot": "no"}, CHOICES)
    assert result.request == request.model_copy(
        update={"budget_usd": None, "deadline_hours": 2.0, "providers": ["gcp"], "spot": False})
    bad = with_limits(request, {"budget": "x", "deadline": "0", "providers": "ibm", "spot": "no"}, CHOICES)
    assert bad.request is None
    assert bad.errors == {"budget": "not a number", "deadline": "must be above 0",
                          "providers": "unknown provider ibm; choose from aws, gcp"}


def test_before_the_presets_load_any_preset_like_name_passes() -> None:
    loading = Choices()
    assert request_from_form(valid_values(model="mlp"), loading).errors == {}
    assert request_from_form(valid_values(model="a model"), loading).errors == {
        "model": "expected a preset name or package.module:factory"}


def test_the_contracts_own_ranges_show_beside_the_fields() -> None:
    from planner.contracts.request import MOST_BATCH
    from tui.contract_fields import PRECISIONS
    from tui.request_form import check_field

    assert check_field("ref_batch", str(MOST_BATCH + 1)) == f"must be less than or equal to {MOST_BATCH}"
    assert check_field("max_gpus", "5000") == "must be less than or equal to 4096"
    assert check_field("budget", "2e12") == "must be less than or equal to 1000000000000"
    assert check_field("budget", "2e10") is None
    assert PRECISIONS[0] == "bf16" and "fp16" in PRECISIONS  # the contract's default first, every choice


def test_an_amount_past_the_contracts_range_is_said_beside_it() -> None:
    from tui.request_form import request_from_form

    values = {"model": "mlp", "workload_kind": "samples", "amount": "1e19", "ref_batch": "64", "ref_lr": "1e-3",
              "max_gpus": "8", "optimizer": "adamw", "precision": "bf16", "spot": "no"}
    result = request_from_form(values)
    assert result.request is None and result.errors["amount"].startswith("must be less than or equal to")


def test_nodes_gpus_and_what_it_trains_come_from_the_form_in_one_spelling() -> None:
    result = request_from_form(valid_values(max_nodes="4", gpus="H100-SXM-80GB, A100-SXM-80GB",
                                            trainable="lora:targets=q,v,r=8"), CHOICES)
    assert result.errors == {}
    assert result.request is not None
    assert (result.request.max_nodes, result.request.gpus) == (4, ["H100-SXM-80GB", "A100-SXM-80GB"])
    assert result.request.trainable == "lora:r=8,targets=q,v"
    texts = form_from_request(result.request)
    assert (texts["max_nodes"], texts["gpus"], texts["trainable"]) == ("4", "H100-SXM-80GB, A100-SXM-80GB",
                                                                       "lora:r=8,targets=q,v")
    plain = request_from_form(valid_values(), CHOICES).request
    assert plain is not None and (plain.max_nodes, plain.trainable) == (16, "full")


@pytest.mark.parametrize(("field", "text", "message"), [
    ("trainable", "lora", "'lora' needs a rank: lora:r=16"),
    ("trainable", "1.5", "a trainable fraction lies strictly between 0 and 1"),
    ("max_nodes", "0", "must be a whole number above 0"),
    ("max_nodes", "5000", "must be less than or equal to 1024"),
])
def test_bad_trainable_and_node_fields_are_named_beside_them(field: str, text: str, message: str) -> None:
    result = request_from_form(valid_values(**{field: text}), CHOICES)
    assert result.request is None
    assert message in result.errors[field]
    assert check_field(field, text) == result.errors[field]


def test_settings_the_form_does_not_show_survive_an_edit_of_a_loaded_request() -> None:
    """A request file with --target-loss, --layouts, ... loaded, then one field edited: they were dropped before."""
    loaded = PlanRequest.model_validate(request_from_form(valid_values(), CHOICES).request.model_dump() | {
        "target_loss": 2.5, "max_samples": 1e9, "layouts": ["fsdp"], "checkpointing": ["full"],
        "tf32_matmul": True})
    edited = request_from_form(valid_values(budget="900"), CHOICES, kept=loaded).request
    assert edited is not None and edited.budget_usd == 900
    assert (edited.target_loss, edited.max_samples, edited.layouts, edited.checkpointing, edited.tf32_matmul) == (
        2.5, 1e9, ["fsdp"], ["full"], True)

"""One source of truth: each setting declared once on its contract, the CLI flags derived from it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from planner.cli.flags import add_flags, given
from planner.cli.main import build_parser
from planner.contracts.probe_config import ProbeConfig
from planner.contracts.request import PlanRequest, ReferenceRun, Workload
from planner.contracts.settings import Strict, flags_of, setting

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = (ProbeConfig, PlanRequest, Workload, ReferenceRun)


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def _numeric_flags() -> list[str]:
    out = []
    for model in CONTRACTS:
        for name, spec in flags_of(model).items():
            annotation = str(model.model_fields[name].annotation)
            if "int" in annotation or "float" in annotation:
                out.append(spec.flag)
    return sorted(set(out))


def test_a_new_field_gets_its_flag_range_and_unit_with_nothing_else_to_do():
    class Demo(Strict):
        max_epochs: int | None = setting(None, flag="--max-epochs", ge=1, help="stop after this many epochs")
        cap: int | None = setting(None, flag="--cap", unit="GB", scale=1e9, gt=0, help="a cap")
        on: bool = setting(False, flag="--on", negatable=True, help="a switch")

    parser = argparse.ArgumentParser()
    add_flags(parser, Demo)
    assert given(parser.parse_args([]), Demo) == {}
    values = given(parser.parse_args(["--max-epochs", "3", "--cap", "1.5", "--no-on"]), Demo)
    assert Demo.model_validate(values) == Demo(max_epochs=3, cap=1_500_000_000, on=False)
    assert "(GB)" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--max-epochs", "0"])


def test_every_probe_flag_the_cli_has_is_a_probe_config_field():
    probe = _parse("probe", "--model", "mlp")
    derived = {spec.dest for spec in flags_of(ProbeConfig).values()}
    own = {"command", "run", "out", "json", "debug", "model_config"}  # model_config: a model to trace, not a sweep setting
    assert set(vars(probe)) == derived | own


def test_one_default_time_limit_everywhere():
    from tui.probe_job import DEFAULT_TIME_LIMIT_S

    assert ProbeConfig.model_fields["time_limit_s"].default == 120.0 == DEFAULT_TIME_LIMIT_S
    assert _parse("probe", "--model", "mlp").time_limit is None  # not given: the contract's default applies
    assert "default 120" in build_parser()._subparsers._group_actions[0].choices["probe"].format_help()


@pytest.mark.parametrize("flag", _numeric_flags())
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_no_numeric_flag_takes_nan_or_inf(flag, value, capsys):
    with pytest.raises(SystemExit) as exc:
        _parse("plan", "--samples", "10", f"{flag}={value}")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and "finite" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, needle", [
    (["--warmup-steps", "-5"], "--warmup-steps must be 0 or more"),
    (["--weight-decay", "-1"], "--weight-decay must be 0 or more"),
    (["--ref-batch", "100000007"], "--ref-batch must be at most"),
    (["--tokens", "1e30"], "--tokens is too large"),
    (["--max-gpus", "2.5"], "--max-gpus must be a whole number"),
    (["--providers", ",,,"], "--providers names nothing"),
    (["--spot", "--no-spot"], "--spot and --no-spot contradict"),
])
def test_out_of_range_flags_are_one_line_naming_the_flag(argv, needle, capsys):
    with pytest.raises(SystemExit):
        _parse("plan", "--samples", "10", *argv)
    assert needle in capsys.readouterr().err


def test_memory_cap_is_gb_on_the_command_line_and_bytes_in_the_contract():
    args = _parse("probe", "--model", "mlp", "--memory-cap", "2.5")
    assert given(args, ProbeConfig)["memory_cap_bytes"] == 2_500_000_000


def test_request_files_are_held_to_the_same_ranges():
    for bad in ({"budget_usd": float("nan")}, {"deadline_hours": float("inf")},
                {"reference": {"batch_size": 8, "lr": 0.1, "warmup_steps": -5}}):
        with pytest.raises(ValidationError):
            PlanRequest.model_validate({"model": "mlp", "workload": {"samples": 10},
                                        "reference": {"batch_size": 8, "lr": 0.1}} | bad)


def test_no_model_copy_update_where_outside_data_comes_in():
    pattern = re.compile(r"model_copy\(\s*update")
    for folder in ("planner/cli", "tui", "providers"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not pattern.search(path.read_text()), path

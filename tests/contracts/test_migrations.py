"""Schema versions: every committed document loads; older versions migrate; newer ones are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.contracts.migrate import CURRENT, MIGRATIONS, SchemaVersionError, upgrade
from planner.errors import BadInput
from planner.report_file import load_probe_report, parse_probe_report
from planner.request_file import load_request, parse_request

ROOT = Path(__file__).resolve().parents[2]


def _kind(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    if {"device", "points", "settings"} <= data.keys():
        return "probe"
    if "candidates" in data and "request" in data:
        return "plan"
    if {"workload", "reference"} <= data.keys():
        return "request"
    return None


def _committed() -> list[tuple[Path, str]]:
    found = []
    for base in (ROOT / "tests", ROOT / "bench" / "results"):
        for path in sorted(base.rglob("*.json")):
            if "__snapshots__" in path.parts:
                continue
            kind = _kind(json.loads(path.read_text()))
            if kind:
                found.append((path, kind))
    return found


COMMITTED = _committed()


def test_the_committed_corpus_is_found():
    assert sum(kind == "probe" for _, kind in COMMITTED) >= 10  # bench/results and the test fixtures


@pytest.mark.parametrize("path, kind", COMMITTED, ids=[str(p.relative_to(ROOT)) for p, _ in COMMITTED])
def test_every_committed_document_still_loads(path, kind):
    if kind == "probe":
        assert load_probe_report(path).schema_version == CURRENT["probe"]
    elif kind == "request":
        assert load_request(path).schema_version == CURRENT["request"]
    else:
        from planner.contracts import Plan

        assert Plan.model_validate(upgrade("plan", json.loads(path.read_text()))).schema_version == CURRENT["plan"]


def test_every_version_below_the_current_one_has_its_migration():
    for kind, current in CURRENT.items():
        assert sorted(MIGRATIONS[kind]) == list(range(1, current)), kind


def test_a_chain_of_migrations_runs_in_order_and_leaves_the_input_alone():
    steps = {1: lambda d: d | {"b": d.pop("a")}, 2: lambda d: d | {"c": d["b"] * 2}}
    old = {"schema_version": 1, "a": 3}
    assert upgrade("probe", old, current=3, migrations=steps) == {"schema_version": 3, "b": 3, "c": 6}
    assert old == {"schema_version": 1, "a": 3}


@pytest.mark.parametrize("version, needle", [
    (99, "newer than this batchfit reads"), (0, "versions start at 1"), ("1", "not a whole number"),
    (True, "not a whole number"), (1.5, "not a whole number"),
])
def test_bad_versions_are_refused(version, needle):
    with pytest.raises(SchemaVersionError, match=needle):
        upgrade("probe", {"schema_version": version}, current=2, migrations={1: dict})


def test_a_gap_in_the_chain_is_named():
    with pytest.raises(SchemaVersionError, match="no migration from it"):
        upgrade("plan", {"schema_version": 1}, current=3, migrations={2: dict})


def test_a_newer_probe_report_is_refused_by_every_reader():
    data = json.loads((ROOT / "tests/cli/data/gpt-tiny-cpu.json").read_text()) | {"schema_version": 99}
    with pytest.raises(BadInput, match="schema_version 99, newer"):
        parse_probe_report(data, "r.json")


def test_a_request_file_from_a_newer_batchfit_is_refused():
    request = {"schema_version": 99, "model": "mlp", "workload": {"samples": 10}, "reference": {"batch_size": 8, "lr": 0.1}}
    with pytest.raises(BadInput, match="newer than this batchfit"):
        parse_request(request, "plan.toml")
    # no version: the first one, migrated to the current
    assert parse_request({k: v for k, v in request.items() if k != "schema_version"}, "x").schema_version == CURRENT["request"]


def test_version_1_documents_read_as_version_2_with_the_added_fields_at_their_defaults():
    report = parse_probe_report(json.loads((ROOT / "tests/cli/data/gpt-tiny-cpu.json").read_text()), "r.json")
    assert report.schema_version == CURRENT["probe"] and report.device.tf32_matmul is None
    assert report.interrupted is False
    request = parse_request({"schema_version": 1, "model": "mlp", "workload": {"samples": 10},
                             "reference": {"batch_size": 8, "lr": 0.1}}, "plan.toml")
    assert request.schema_version == CURRENT["request"] and request.tf32_matmul is False


def test_request_and_plan_2_read_as_3_training_every_parameter_and_probe_4_lacks_linear_shapes():
    request = parse_request({"schema_version": 2, "model": "mlp", "workload": {"samples": 10},
                             "reference": {"batch_size": 8, "lr": 0.1}}, "plan.toml")
    assert request.schema_version == 3 and request.trainable == "full"
    plan = upgrade("plan", {"schema_version": 2, "request": {"schema_version": 2}})
    assert plan["schema_version"] == 3 and "trainable" not in plan  # Plan.trainable defaults to None
    data = json.loads((ROOT / "tests/cli/data/gpt-tiny-cpu.json").read_text()) | {"schema_version": 4}
    assert parse_probe_report(data, "r.json").schema_version == 5


def test_version_2_requests_get_the_new_node_limit_and_version_2_plans_say_they_planned_one_node():
    request = parse_request({"schema_version": 2, "model": "mlp", "workload": {"samples": 10},
                             "reference": {"batch_size": 8, "lr": 0.1}}, "plan.toml")
    assert request.schema_version == 3 and request.max_nodes == 16  # a limit: the new default applies
    old = {"schema_version": 2, "request": {"schema_version": 2, "model": "m", "max_gpus": 8},
           "candidates": [{"id": 0, "gpu_count": 8}], "scaling": [], "excluded": [{"offer": "o", "reason": "r"}]}
    plan = upgrade("plan", old)
    # what made that plan's candidates: one instance each; the candidate's own fields keep their defaults
    assert plan["schema_version"] == 3 and plan["request"] == {"schema_version": 3, "model": "m", "max_gpus": 8,
                                                               "max_nodes": 1}
    assert plan["candidates"] == [{"id": 0, "gpu_count": 8}] and old["request"]["schema_version"] == 2


def test_probe_3_marks_an_old_interrupted_report_from_its_stop_reason():
    data = json.loads((ROOT / "tests/cli/data/gpt-tiny-cpu.json").read_text()) | {"stop_reason": "interrupted"}
    assert parse_probe_report(data, "r.json").interrupted

"""Property tests: whatever the input, only batchfit's own errors come out, and JSON outputs are valid.

Over the CLI's derived numeric flags, the request loader, the CSV loader, the report validator
and the planner. A failing example is kept by hypothesis's database and printed for a regression test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from planner.cli.main import build_parser  # noqa: E402
from planner.contracts import Plan, ProbeReport  # noqa: E402
from planner.contracts.probe_config import ProbeConfig  # noqa: E402
from planner.contracts.request import PlanRequest, ReferenceRun, Workload  # noqa: E402
from planner.contracts.settings import flags_of  # noqa: E402
from planner.errors import BatchfitError  # noqa: E402
from planner.plan.build import build_plan  # noqa: E402
from planner.report_check import check_report  # noqa: E402
from planner.report_file import parse_probe_report  # noqa: E402
from planner.request_file import parse_request  # noqa: E402
from providers.catalog import load_catalog  # noqa: E402
from providers.errors import CatalogError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REPORT = json.loads((ROOT / "tests/cli/data/gpt-tiny-cpu.json").read_text())
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NUMERIC_FLAGS = sorted({spec.flag for model in (ProbeConfig, PlanRequest, Workload, ReferenceRun)
                        for name, spec in flags_of(model).items()
                        if "int" in str(model.model_fields[name].annotation)
                        or "float" in str(model.model_fields[name].annotation)})
PARSER = build_parser()

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**30, max_value=10**30))
texts = st.one_of(numbers.map(str), st.text(max_size=12), st.sampled_from(["nan", "inf", "-0", "1e400", "2e9", "0x10"]))


@FAST
@given(flag=st.sampled_from(NUMERIC_FLAGS), value=texts)
def test_a_numeric_flag_either_parses_to_a_finite_in_range_value_or_exits_2(flag, value):
    try:
        args = PARSER.parse_args(["plan", "--samples", "10", f"{flag}={value}"])
    except SystemExit as exc:
        assert exc.code == 2
        return
    parsed = getattr(args, flag.lstrip("-").replace("-", "_"))
    assert parsed is not None and float(parsed) == float(parsed) and abs(float(parsed)) < float("inf")


json_values = st.recursive(st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8)),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=10)


@FAST
@given(patch=st.dictionaries(st.sampled_from(["model", "workload", "reference", "budget_usd", "deadline_hours",
                                              "schema_version", "spot", "max_gpus", "providers", "noise_scale"]),
                             json_values, max_size=4))
def test_the_request_loader_raises_only_batchfits_errors(patch):
    data = {"model": "mlp", "workload": {"samples": 10}, "reference": {"batch_size": 8, "lr": 0.1}} | patch
    try:
        request = parse_request(data, "request")
    except BatchfitError:
        return
    PlanRequest.model_validate_json(request.model_dump_json())  # what loads, round-trips


POINT_FIELDS = ["step_time_s", "samples_per_s", "peak_memory_bytes", "step_time_min_s", "step_time_max_s"]


@FAST
@given(index=st.integers(0, len(REPORT["points"]) - 1), field=st.sampled_from(POINT_FIELDS),
       value=st.one_of(numbers, st.none()))
def test_the_report_validator_refuses_or_passes_never_crashes(index, field, value):
    data = json.loads(json.dumps(REPORT))
    data["points"][index][field] = value
    try:
        report = parse_probe_report(data, "r.json")
    except BatchfitError:
        return
    check_report(report, "again")  # what passes once passes again


CATALOG = load_catalog(use_cache=False)


@settings(max_examples=15, deadline=None)
@given(samples=st.integers(1, 10**15), ref_batch=st.integers(1, 2**24), lr=st.floats(1e-8, 10.0),
       budget=st.one_of(st.none(), st.floats(1e-3, 1e9)), deadline=st.one_of(st.none(), st.floats(1e-3, 1e5)),
       noise=st.one_of(st.none(), st.floats(1.0, 1e9)))
def test_the_planner_gives_a_schema_valid_plan_or_a_batchfit_error(samples, ref_batch, lr, budget, deadline, noise):
    report = ProbeReport.model_validate(parse_probe_report(json.loads(json.dumps(REPORT)), "r").model_dump())
    request = PlanRequest.model_validate({"model": "gpt-tiny", "workload": {"samples": samples},
                                          "reference": {"batch_size": ref_batch, "lr": lr},
                                          "budget_usd": budget, "deadline_hours": deadline, "noise_scale": noise})
    try:
        plan = build_plan(request, report, CATALOG)
    except BatchfitError:
        return
    Plan.model_validate_json(plan.model_dump_json())  # finite numbers, the schema holds


HEADER = (ROOT / "pricing/offers.csv").read_text().splitlines()[0]


@FAST
@given(body=st.lists(st.lists(st.one_of(st.text(max_size=6), numbers.map(str)), min_size=1, max_size=16),
                     max_size=3),
       raw=st.binary(max_size=40))
def test_the_csv_loader_raises_only_catalog_errors(tmp_path_factory, body, raw):
    path = tmp_path_factory.mktemp("csv") / "mine.csv"
    path.write_bytes((HEADER + "\n" + "\n".join(",".join(row) for row in body) + "\n").encode() + raw)
    try:
        load_catalog(user_csv=path, use_cache=False)
    except CatalogError:
        pass


# The seeded corpus: the cases issue 12 found, each a fixed example.
@pytest.mark.parametrize("argv", [
    ["--memory-cap", "nan"], ["--epochs", "inf"], ["--noise-scale", "inf"], ["--warmup-steps", "-5"],
    ["--weight-decay", "-1"], ["--ref-batch", "100000007"], ["--providers", ",,,"], ["--spot", "--no-spot"],
])
def test_seeded_regressions_of_bad_flags(argv):
    with pytest.raises(SystemExit) as exc:
        PARSER.parse_args(["plan", "--samples", "10", *argv])
    assert exc.value.code == 2


def test_seeded_regression_quotes_max_price_nan():
    with pytest.raises(SystemExit) as exc:
        PARSER.parse_args(["quotes", "--max-price", "nan"])
    assert exc.value.code == 2

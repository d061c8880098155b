"""The command line as a user meets it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import jsonschema
import pytest

from planner.contracts import Plan, ProbeReport

from .conftest import REPORT, assert_one_line_error, batchfit

PLAN_ARGS = ["--tokens", "2000000000", "--ref-batch", "64", "--ref-lr", "6e-4"]


def test_plan_from_probe_json_validates_against_the_printed_schema(report_path):
    result = batchfit("plan", "--from-probe", str(report_path), *PLAN_ARGS, "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)  # only JSON on stdout
    schema = json.loads(batchfit("schema", "plan").stdout)
    jsonschema.validate(plan, schema)
    assert Plan.model_validate(plan).recommendation is not None


def test_probe_schema_validates_a_real_report(report_path):
    schema = json.loads(batchfit("schema", "probe").stdout)
    jsonschema.validate(json.loads(report_path.read_text()), schema)


def test_from_probe_path_never_imports_torch_or_triton(report_path, tmp_path):
    code = (
        "import sys\n"
        "from planner.cli.main import main\n"
        f"rc = main(['plan', '--from-probe', {str(report_path)!r}, '--samples', '100000', '--format', 'markdown'])\n"
        "assert rc == 0, rc\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'triton', 'textual'})\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "# batchfit plan" in result.stdout


def test_table_and_markdown_formats(report_path):
    table = batchfit("plan", "--from-probe", str(report_path), *PLAN_ARGS, "--budget", "500")
    assert table.returncode == 0
    assert "Cheapest" in table.stdout and "Pareto frontier" in table.stdout
    md = batchfit("plan", "--from-probe", str(report_path), *PLAN_ARGS, "--format", "markdown")
    assert md.stdout.startswith("# batchfit plan: gpt-tiny")


def test_nothing_fits_exits_3_and_says_why(report_path):
    result = batchfit("plan", "--from-probe", str(report_path), *PLAN_ARGS, "--budget", "0.0001")
    assert result.returncode == 3
    assert "Nothing meets the limits" in result.stdout and "budget:" in result.stdout


@pytest.mark.parametrize("args, needle", [
    (["--budget", "0"], "--budget must be greater than 0"),
    (["--budget", "-5"], "--budget must be greater than 0"),
    (["--deadline", "0"], "--deadline must be greater than 0"),
    (["--samples", "-1"], "--samples must be greater than 0"),
    (["--budget", "lots"], "--budget must be a number"),
    (["--providers", "nosuch"], "unknown provider nosuch"),
])
def test_bad_plan_limits_exit_2(report_path, args, needle):
    result = batchfit("plan", "--from-probe", str(report_path), *PLAN_ARGS[2:], "--samples", "1000", *args)
    assert_one_line_error(result, 2, needle)


def test_missing_workload_is_bad_input(report_path):
    assert_one_line_error(batchfit("plan", "--from-probe", str(report_path)), 2, "no workload")


def test_probe_file_errors(tmp_path):
    missing = batchfit("plan", "--from-probe", str(tmp_path / "nope.json"), "--samples", "10")
    assert_one_line_error(missing, 2, "not found", "batchfit probe --out")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert_one_line_error(batchfit("plan", "--from-probe", str(garbage), "--samples", "10"), 2, "is not JSON")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(json.loads(REPORT.read_text()) | {"schema_version": 99}))
    assert_one_line_error(batchfit("plan", "--from-probe", str(old), "--samples", "10"), 2, "schema_version 99")
    broken = tmp_path / "broken.json"
    data = json.loads(REPORT.read_text())
    del data["device"]
    broken.write_text(json.dumps(data))
    assert_one_line_error(batchfit("plan", "--from-probe", str(broken), "--samples", "10"), 2, "malformed at device")


def test_malformed_price_table_names_file_line_and_field(report_path, tmp_path):
    bad = tmp_path / "mine.csv"
    header = (REPORT.parents[2] / "../pricing/offers.csv").resolve().read_text().splitlines()[0]
    bad.write_text(header + "\n" + ",".join(["x"] * len(header.split(","))) + "\n")
    result = batchfit("plan", "--from-probe", str(report_path), "--samples", "10", "--prices", str(bad))
    assert_one_line_error(result, 2, "mine.csv", "line 2")


def test_unknown_gpu_filter_in_quotes():
    assert_one_line_error(batchfit("quotes", "--gpu", "Z9000"), 2, "Z9000")


def test_quotes_list_h100_from_four_providers():
    result = batchfit("quotes", "--gpu", "H100", "--json")
    assert result.returncode == 0, result.stderr
    providers = {q["offer"]["provider"] for q in json.loads(result.stdout)["quotes"]}
    assert len(providers) >= 4


@pytest.mark.parametrize("model, needle", [
    ("no-such-preset", "no-such-preset"),
    ("nosuchpkg.mod:factory", "nosuchpkg"),
    ("bf_factories:raises", "the user's factory failed"),
    ("bf_factories:wrong_type", "ModelBundle"),
])
def test_bad_model_references_exit_2(model, needle):
    assert_one_line_error(batchfit("probe", "--model", model, "--max-batch", "1"), 2, needle)


@pytest.mark.parametrize("flags, needles", [
    (["--max-batch", "0"], ["--max-batch must be greater than 0"]),
    (["--nproc", "-2"], ["--nproc must be greater than 0"]),
    (["--noise-steps", "-1"], ["--noise-steps must be 0 or more"]),
    (["--noise-lr", "fast"], ["--noise-lr must be a number"]),
    (["--noise-train-steps", "5"], ["--noise-train-steps: trains before the noise steps, so it needs --noise-steps > 0"]),
    (["--noise-steps", "5", "--noise-target-loss", "2"], ["--noise-target-loss: needs --noise-train-steps > 0"]),
])
def test_bad_probe_settings_are_one_line_in_the_flags_names(flags, needles):
    assert_one_line_error(batchfit("probe", "--model", "mlp", "--device", "cpu", *flags), 2, *needles)


def test_a_bad_request_file_fails_before_the_probe_runs(tmp_path):
    result = batchfit("plan", "--model", "mlp", "--device", "cpu", "--request", str(tmp_path / "missing.toml"))
    assert_one_line_error(result, 2, "missing.toml not found")
    assert "probe:" not in result.stderr  # nothing was swept


def test_planning_trains_the_noise_steps_at_the_request_files_reference_lr(tmp_path):
    request = tmp_path / "plan.json"
    request.write_text(json.dumps({"model": "mlp", "workload": {"samples": 100000},
                                   "reference": {"batch_size": 32, "lr": 0.002, "optimizer": "adamw"}}))
    result = batchfit("plan", "--model", "mlp", "--device", "cpu", "--max-batch", "4", "--noise-steps", "10",
                      "--request", str(request), "--json")
    assert result.returncode in (0, 3), result.stderr
    noise = json.loads(result.stdout)["probe"]["noise_scale"]
    assert noise is not None and noise["lr"] == 0.002, result.stderr


def test_probe_that_measures_nothing_exits_4(tmp_path):
    out = tmp_path / "r.json"
    result = batchfit("probe", "--model", "bf_factories:broken_loss", "--max-batch", "2", "--out", str(out))
    assert result.returncode in (2, 4), result.stderr
    assert "Traceback" not in result.stderr
    assert "shape mismatch in the user's loss" in result.stderr


def test_probe_and_plan_on_this_machine(tmp_path):
    out = tmp_path / "mlp.json"
    probe = batchfit("probe", "--model", "mlp", "--max-batch", "8", "--out", str(out), "--json")
    assert probe.returncode == 0, probe.stderr
    report = ProbeReport.model_validate_json(probe.stdout)
    assert ProbeReport.model_validate_json(out.read_text()) == report
    assert [p.batch_size for p in report.ok_points()][:2] == [1, 2]
    plan = batchfit("plan", "--from-probe", str(out), "--samples", "1000000", "--ref-batch", "32", "--ref-lr", "0.1",
                    "--optimizer", "sgd")
    assert plan.returncode == 0, plan.stderr
    assert "linear (Goyal" in plan.stdout


def test_ctrl_c_still_writes_what_was_measured(tmp_path):
    out = tmp_path / "gpt.json"
    log = tmp_path / "gpt.json.points.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "planner.cli.main", "probe", "--model", "gpt-tiny",
                             "--plateau-gain", "-1", "--time-limit", "600", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and log.read_text().count("\n") >= 2):  # header + a point
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr
    report = ProbeReport.model_validate_json(out.read_text())
    assert report.stop_reason == "interrupted"
    assert report.ok_points()


def test_probe_warnings_reach_stderr():
    """--kernels triton on a CPU runs the torch references: the probe must say so, not only the report."""
    result = batchfit("probe", "--model", "mlp", "--device", "cpu", "--kernels", "triton", "--max-batch", "2",
                      "--noise-steps", "0")
    assert result.returncode == 0, result.stderr
    assert "probe: warning: Triton kernels need CUDA" in result.stderr

"""The defect classes of issue 12, each pinned: corrupted reports, one error path, signals, the
point log, file encodings. In-process through `main` where no probe runs (fast), else a subprocess."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.cli import plan_cmd
from planner.cli.main import main
from planner.cli.out_path import out_lock
from planner.contracts import ProbeReport
from planner.contracts.migrate import CURRENT
from planner.plan.shapes import split_batch
from planner.report_file import save_probe_report

from .conftest import DATA, REPORT, assert_one_line_error, batchfit

PLAN = ["--samples", "100000", "--ref-batch", "64", "--ref-lr", "6e-4"]
REPO = Path(__file__).parents[2]


def _report() -> dict:
    return json.loads(REPORT.read_text())


def _plan_from(tmp_path: Path, data: dict | str, *extra: str) -> tuple[int, str]:
    path = tmp_path / "r.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return main(["plan", "--from-probe", str(path), *PLAN, *extra]), str(path)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("batchfit")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- corrupted or inconsistent probe reports ------------------------------------------------

def test_a_faked_step_time_is_refused_naming_the_point(tmp_path, capsys):
    data = _report()
    ok = next(p for p in data["points"] if p["status"] == "ok" and p["batch_size"] > 1)
    ok["step_time_s"] = 0.0001
    code, _ = _plan_from(tmp_path, data)
    line = _one_error_line(capsys)
    assert code == 2 and f"point batch {ok['batch_size']}" in line and "samples_per_s" in line


def test_a_peak_memory_falling_with_the_batch_is_refused(tmp_path, capsys):
    data = _report()
    measured = [p for p in data["points"] if p["status"] == "ok" and p.get("memory_provenance") == "measured"]
    measured[-1]["peak_memory_bytes"] = measured[0]["peak_memory_bytes"] // 2
    code, _ = _plan_from(tmp_path, data)
    assert code == 2 and "peak_memory_bytes" in _one_error_line(capsys)


def test_a_negative_per_sample_memory_is_refused(tmp_path, capsys):
    data = _report()
    data["memory_fit"]["per_sample_bytes"] = -abs(data["memory_fit"]["per_sample_bytes"])
    code, _ = _plan_from(tmp_path, data)
    assert code == 2 and "per_sample_bytes" in _one_error_line(capsys)


def test_a_nan_step_time_is_bad_input_not_a_zero_division(tmp_path, capsys):
    text = json.dumps(_report())
    data = json.loads(text)
    data["points"][0]["step_time_s"] = math.nan
    code, _ = _plan_from(tmp_path, json.dumps(data))  # json writes the NaN literal
    assert code == 2 and "step_time_s" in _one_error_line(capsys)


def test_quotes_probe_runs_the_validator_too(tmp_path, capsys):
    data = _report()
    data["model"]["flops_per_sample"] = -1.0
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    assert main(["quotes", "--gpu", "H100", "--probe", str(path)]) == 2
    assert "flops_per_sample" in _one_error_line(capsys)


# -- one error path ----------------------------------------------------------------------

def test_an_unexpected_exception_is_one_line_and_exit_1(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(plan_cmd, "build_plan", lambda *a, **k: broken(None))
    monkeypatch.delenv("BATCHFIT_DEBUG", raising=False)
    assert main(["plan", "--from-probe", str(REPORT), *PLAN]) == 1
    line = _one_error_line(capsys)
    assert "internal error: RuntimeError: a bug" in line and "--debug" in line
    monkeypatch.setenv("BATCHFIT_DEBUG", "1")
    assert main(["plan", "--from-probe", str(REPORT), *PLAN]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.delenv("BATCHFIT_DEBUG")
    assert main(["plan", "--from-probe", str(REPORT), *PLAN, "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_tokens_for_a_model_without_a_sequence_length_is_bad_input(tmp_path, capsys):
    data = _report()
    data["model"]["seq_len"] = None
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    assert main(["plan", "--from-probe", str(path), "--tokens", "1000000"]) == 2
    assert "sequence length" in _one_error_line(capsys)


def test_a_multi_gpu_offer_without_link_bandwidth_is_excluded_not_a_crash(tmp_path, capsys):
    offers = (REPO / "pricing/offers.csv").read_text().splitlines()
    row = next(line for line in offers if "gpu_1x_gh200" in line).replace("gpu_1x_gh200,", "my_2x_gh200,")
    row = row.replace(",GH200-96GB,1,", ",GH200-96GB,2,")
    mine = tmp_path / "mine.csv"
    mine.write_text(offers[0] + "\n" + row + "\n")
    assert main(["plan", "--from-probe", str(REPORT), *PLAN, "--prices", str(mine), "--json"]) in (0, 3)
    plan = json.loads(capsys.readouterr().out)
    assert any("my_2x_gh200" in e["offer"] and "link bandwidth" in e["reason"] for e in plan["excluded"])


def test_split_batch_of_a_huge_prime_batch_is_immediate():
    began = time.perf_counter()
    assert split_batch(100000007, 1, 8) == (1, 100000007)
    assert time.perf_counter() - began < 1.0


@pytest.mark.parametrize("factory, needle", [("bf_factories:exits", "called sys.exit(3)"),
                                             ("bf_factories:exits_in_loss", "sys.exit(0)")])
def test_a_factory_calling_sys_exit_does_not_pick_batchfits_exit_code(factory, needle, tmp_path):
    result = batchfit("probe", "--model", factory, "--device", "cpu", "--max-batch", "2")
    assert result.returncode in (2, 4), result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


# -- signals and the partial probe --------------------------------------------------------

def _interrupt(tmp_path: Path, sig: int, *command: str) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the command on a model whose B=4 sleeps a minute; signal it once B=2 is reported."""
    out = tmp_path / "p.json"
    env = os.environ | {"BATCHFIT_TEST_SLOW": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{DATA}"}
    proc = subprocess.Popen([sys.executable, "-m", "planner.cli.main", *command, "--model",
                             "tests.probe.probe_factories:slow_from_4", "--device", "cpu", "--max-batch", "8",
                             "--time-limit", "300"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # progress lines, one per point
        seen.append(line)
        if line.startswith("probe: batch     2:"):
            break
    time.sleep(0.5)  # into B=4
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "".join(seen) + stderr), out


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_the_report_marks_it_interrupted_and_exits_128_plus_it(tmp_path, sig, code):
    out = tmp_path / "p.json"
    result, _ = _interrupt(tmp_path, sig, "probe", "--out", str(out))
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "--resume" in result.stderr
    report = ProbeReport.model_validate_json(out.read_text())
    assert report.interrupted and [p.batch_size for p in report.ok_points()] == [1, 2]


@pytest.mark.slow
def test_plan_model_refuses_an_interrupted_probe_without_allow_partial(tmp_path):
    result, _ = _interrupt(tmp_path, signal.SIGINT, "plan", *PLAN)
    assert result.returncode == 130 and "--allow-partial" in result.stderr and result.stdout == ""


def test_from_probe_refuses_an_interrupted_report_unless_allowed(tmp_path, capsys):
    data = _report() | {"schema_version": CURRENT["probe"], "interrupted": True}
    code, path = _plan_from(tmp_path, data)
    assert code == 2 and "--allow-partial" in _one_error_line(capsys)
    assert main(["plan", "--from-probe", path, *PLAN, "--allow-partial", "--json"]) in (0, 3)
    assert any("interrupted probe" in w for w in json.loads(capsys.readouterr().out)["warnings"])


# -- the point log and --out ----------------------------------------------------------------

def test_a_second_probe_on_the_same_out_is_refused(tmp_path):
    out = tmp_path / "p.json"
    out.with_name("p.json.lock").write_text(f"{os.getpid()}\n")  # a live process holds it
    result = batchfit("probe", "--model", "mlp", "--device", "cpu", "--max-batch", "2", "--out", str(out))
    assert_one_line_error(result, 2, "another probe", str(os.getpid()))


def test_a_stale_lock_is_taken_over_and_released(tmp_path):
    out = tmp_path / "p.json"
    lock = out.with_name("p.json.lock")
    lock.write_text("999999999\n")  # no such process
    with out_lock(out):
        assert lock.read_text().strip() == str(os.getpid())
    assert not lock.exists()


@pytest.mark.parametrize("make, needle", [(lambda p: p.mkdir(), "is a directory"),
                                          (lambda p: None, "does not exist")])
def test_out_is_checked_before_the_probe_starts(tmp_path, make, needle):
    out = tmp_path / "d" if needle == "is a directory" else tmp_path / "nope" / "p.json"
    make(out)
    result = batchfit("probe", "--model", "mlp", "--device", "cpu", "--out", str(out))
    assert_one_line_error(result, 2, needle)
    assert "probe: batch" not in result.stderr  # nothing was measured


def test_saving_never_touches_a_fixed_tmp_name_and_leaves_no_temp_file(tmp_path):
    other = tmp_path / "r.json.tmp"
    other.write_text("another writer's file")
    report = ProbeReport.model_validate_json(REPORT.read_text())
    save_probe_report(report, tmp_path / "r.json")
    assert other.read_text() == "another writer's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.json.tmp"]


# -- files ------------------------------------------------------------------------------

REQUEST = {"model": "mlp", "workload": {"samples": 100000}, "reference": {"batch_size": 32, "lr": 0.002}}


def test_a_request_with_a_bom_and_crlf_loads(tmp_path, capsys):
    path = tmp_path / "plan.toml"
    path.write_bytes(b"\xef\xbb\xbfmodel = \"mlp\"\r\n[workload]\r\nsamples = 100000\r\n"
                     b"[reference]\r\nbatch_size = 32\r\nlr = 0.002\r\n")
    assert main(["plan", "--from-probe", str(REPORT), "--request", str(path), "--json"]) in (0, 3)
    assert json.loads(capsys.readouterr().out)["request"]["reference"]["lr"] == 0.002


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _loop(path: Path) -> None:
    path.symlink_to(path)


@pytest.mark.parametrize("make, needle", [
    (lambda p: p.write_bytes(json.dumps(REQUEST).replace("mlp", "ml\xe9").encode("latin-1")), "not UTF-8"),
    (lambda p: p.mkdir(), "is a directory"),
    (_fifo, "FIFO"),
    (_loop, "symlink loop"),
    (lambda p: p.write_text('{"model": "a", "model": "b"}'), "appears twice"),
    (lambda p: p.write_text(json.dumps(REQUEST | {"schema_version": 99})), "newer than this batchfit"),
    (lambda p: p.write_text(json.dumps(REQUEST | {"budget_usd": math.inf})), "budget_usd"),
])
def test_bad_request_files_are_one_line_naming_what_they_are(tmp_path, capsys, make, needle):
    path = tmp_path / "plan.json"
    make(path)
    assert main(["plan", "--from-probe", str(REPORT), "--request", str(path)]) == 2
    assert needle in _one_error_line(capsys)


@pytest.mark.parametrize("body, needle", [
    (lambda header, row: header + "," + header.split(",")[0] + "\n" + row + ",x\n", "appears twice"),
    (lambda header, row: header + "\n" + row.replace(",any,", ',"any,', 1) + "\n", "never closed"),
    (lambda header, row: (header + "\n" + row + "\n").encode("utf-16"), "UTF-16"),
])
def test_bad_price_csvs_are_one_line_naming_what_is_wrong(tmp_path, capsys, body, needle):
    offers = (REPO / "pricing/offers.csv").read_text().splitlines()
    mine = tmp_path / "mine.csv"
    content = body(offers[0], next(line for line in offers if "gpu_1x_gh200" in line))
    mine.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["quotes", "--prices", str(mine)]) == 2
    assert needle in _one_error_line(capsys)


def test_a_price_csv_with_an_excel_bom_loads(tmp_path, capsys):
    offers = (REPO / "pricing/offers.csv").read_text().splitlines()
    mine = tmp_path / "mine.csv"
    mine.write_bytes(b"\xef\xbb\xbf" + (offers[0] + "\r\n" + next(l for l in offers if "gpu_1x_gh200" in l)
                                        + "\r\n").encode())
    assert main(["quotes", "--prices", str(mine), "--gpu", "GH200", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quotes"]


# -- the time limit -------------------------------------------------------------------------

def test_the_time_limit_bounds_the_whole_probe_memory_traces_included():
    from planner.contracts.probe_config import ProbeConfig
    from planner.probe import run_probe

    limit = 4.0
    began = time.perf_counter()
    report = run_probe(ProbeConfig(model="gpt-tiny", device="cpu", time_limit_s=limit, plateau_gain=-1))
    elapsed = time.perf_counter() - began
    slowest_step = max(p.step_time_max_s or 0.0 for p in report.points)
    assert elapsed <= max(1.1 * limit, limit + slowest_step) + 0.3, (elapsed, report.warnings)  # setup included


@pytest.mark.parametrize(("args", "needle"), [
    (["--layouts", "ddp,tp", "--tokens", "1e9"], "--layouts"),
    ([], "no workload"),
])
def test_bad_request_flags_fail_before_the_probe_runs(args, needle):
    """They failed only after the whole probe (or a 13 s trace of an HF config) had run."""
    result = batchfit("plan", "--model", "gpt-tiny", *args)
    assert_one_line_error(result, 2, needle)
    assert "probe:" not in result.stderr

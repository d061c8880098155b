"""Persistence: points land in the JSONL log as they finish, and a killed sweep resumes from it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.contracts.probe import ProbeReport
from planner.errors import BadInput
from planner.probe import ProbeConfig, default_log_path, run_probe
from planner.probe.pointlog import LogPoint
from planner.report_file import save_probe_report
from tests.probe.probe_factories import REF

REPO = Path(__file__).parents[2]  # on PYTHONPATH, so the child can import tests.probe.probe_factories
SETTINGS = dict(model=REF + "slow_from_4", device="cpu", warmup_steps=1, timed_steps=2,
                memory_cap_bytes=2**30, max_batch=8, plateau_gain=-1)

SWEEP_SCRIPT = """
import sys
from planner.probe import ProbeConfig, run_probe
run_probe(ProbeConfig.model_validate_json(sys.argv[1]))
"""


def logged_points(log: Path) -> list:
    if not log.exists():
        return []
    lines = log.read_text().splitlines()[1:]
    return [LogPoint.model_validate_json(line).point for line in lines if line.endswith("}")]


def test_killed_sweep_resumes_without_remeasuring(tmp_path, scripted_clock):
    log = tmp_path / "report.json.points.jsonl"
    config = ProbeConfig(**SETTINGS, log_path=log)
    env = {**os.environ, "BATCHFIT_TEST_SLOW": "1", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT, config.model_dump_json()], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(logged_points(log)) < 2:  # B=1 and B=2 are fast; B=4 hangs for a minute
            assert child.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the first points never reached the log"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    before = {p.batch_size: p for p in logged_points(log)}
    assert sorted(before) == [1, 2]

    report = run_probe(config.model_copy(update={"resume": True}))
    assert [(p.batch_size, p.status) for p in report.points] == [(1, "ok"), (2, "ok"), (4, "ok"), (8, "ok")]
    for size in (1, 2):  # reused as logged (the scripted clock would have said 0.01 s)
        point = report.points[size - 1]
        assert point.resumed and point.step_time_s == before[size].step_time_s
    assert not report.points[2].resumed and report.points[2].step_time_s == 0.01
    assert any("resumed 2 point(s)" in w for w in report.warnings)
    assert [p.batch_size for p in logged_points(log)] == [1, 2, 4, 8]  # appended, not rewritten


def test_resume_refuses_a_log_written_with_other_settings(tmp_path, scripted_clock):
    log = tmp_path / "points.jsonl"
    config = ProbeConfig(**{**SETTINGS, "max_batch": 2}, log_path=log)
    run_probe(config)
    with pytest.raises(BadInput, match="different settings \\(timed_steps\\)"):
        run_probe(config.model_copy(update={"resume": True, "timed_steps": 3}))


def test_a_line_cut_short_by_a_crash_is_measured_again(tmp_path, scripted_clock):
    log = tmp_path / "points.jsonl"
    config = ProbeConfig(**{**SETTINGS, "max_batch": 2}, log_path=log)
    run_probe(config)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1] + [lines[-1][:25]]) + "\n")  # B=2's line torn mid-write
    report = run_probe(config.model_copy(update={"resume": True}))
    assert [p.resumed for p in report.points] == [True, False]


def test_an_existing_log_is_refused_without_resume_or_fresh(tmp_path, scripted_clock):
    log = tmp_path / "points.jsonl"
    config = ProbeConfig(**{**SETTINGS, "max_batch": 2}, log_path=log)
    run_probe(config)
    before = log.read_text()
    with pytest.raises(BadInput, match="--resume.*--fresh"):
        run_probe(config)
    assert log.read_text() == before  # not emptied
    report = run_probe(config.model_copy(update={"fresh": True}))
    assert not any(p.resumed for p in report.points)
    assert [p.batch_size for p in logged_points(log)] == [1, 2]


def test_a_torn_last_line_is_cut_before_the_next_point_is_appended(tmp_path, scripted_clock):
    log = tmp_path / "points.jsonl"
    config = ProbeConfig(**{**SETTINGS, "max_batch": 4}, log_path=log)
    run_probe(config.model_copy(update={"max_batch": 2}))
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])  # B=2's line torn, no newline
    run_probe(config.model_copy(update={"resume": True}))
    again = log.read_text().splitlines()
    assert all(line.endswith("}") for line in again)  # nothing appended onto the torn line
    report = run_probe(config.model_copy(update={"resume": True}))  # and the log resumes again
    assert all(p.resumed for p in report.points)


def test_report_round_trips_through_json(tmp_path, scripted_clock):
    report = run_probe(ProbeConfig(**{**SETTINGS, "max_batch": 2}))
    path = tmp_path / "report.json"
    save_probe_report(report, path)
    assert ProbeReport.model_validate_json(path.read_text()) == report
    assert default_log_path(path) == tmp_path / "report.json.points.jsonl"

"""The time limit bounds the whole probe -- setup, sweep, memory traces, noise phase -- within the
bound planner/deadline.py states: the limit x 1.1 or the limit + the longest step, whichever is
later, even when the user's code blocks forever (the worker thread is abandoned, the report keeps
what was measured)."""

from __future__ import annotations

import re
import time

import pytest

from planner.deadline import OVER_FRACTION, hung_threads
from planner.errors import ProbeFailed
from planner.probe import run_probe
from tests.probe.probe_factories import REF

SLACK_S = 0.3  # building and returning the report after the bound


def bound(limit: float, report) -> float:
    longest = max((p.step_time_max_s or 0.0 for p in report.points if p.status == "ok"), default=0.0)
    return max((1 + OVER_FRACTION) * limit, limit + longest) + SLACK_S


def test_a_make_batch_that_blocks_forever_is_abandoned_at_the_bound_keeping_the_points(fast_config, tmp_path):
    limit = 5.0
    log = tmp_path / "r.json.points.jsonl"
    began = time.perf_counter()
    report = run_probe(fast_config(REF + "blocks_from_4", max_batch=16, log_path=log, time_limit_s=limit), began=began)
    elapsed = time.perf_counter() - began
    assert elapsed <= bound(limit, report), elapsed
    assert elapsed >= limit  # it waited for the limit: B=4 was never going to return
    sizes = [p.batch_size for p in report.ok_points()]
    assert sizes in ([1], [1, 2])  # [1]: a busy machine's slow setup left no time for B=2
    assert report.stop_reason == "time-limit" and not report.interrupted
    # B=4 hangs in its point, or -- when the sweep stopped before it to keep the limit -- in its memory trace
    assert any(re.match(r"time limit: (the memory trace at )?batch 4 was still running", w) and "abandoned" in w
               for w in report.warnings), report.warnings
    assert log.read_text().count('"batch_size"') == len(sizes)  # every measured point is in the log
    assert hung_threads()  # the blocked thread lives on: the CLI leaves with os._exit


def test_the_memory_traces_after_the_sweep_are_abandoned_when_the_loader_blocks(fast_config):
    limit = 6.0  # room for B=1..8 even on a busy machine; the trace of B=16 then blocks
    began = time.perf_counter()
    report = run_probe(fast_config(REF + "blocks_from_16", max_batch=8, time_limit_s=limit), began=began)
    elapsed = time.perf_counter() - began
    assert elapsed <= bound(limit, report), elapsed
    assert [p.batch_size for p in report.ok_points()] == [1, 2, 4, 8]
    assert report.stop_reason == "time-limit"
    assert any("the memory trace at batch 16 was still running" in w for w in report.warnings), report.warnings
    assert report.memory_fit is not None  # fitted on the measured peaks


def test_a_slow_setup_counts_against_the_limit_and_the_sweep_gets_the_rest(fast_config):
    limit = 6.0  # the 3 s build, up to 2 s more in a fresh process (FakeTensorMode imports torch._dynamo), the rest
    began = time.perf_counter()
    report = run_probe(fast_config(REF + "slow_build", time_limit_s=limit, plateau_gain=-1), began=began)
    elapsed = time.perf_counter() - began
    assert elapsed <= bound(limit, report), elapsed
    assert report.stop_reason == "time-limit" and report.ok_points()
    setup = next(w for w in report.warnings if w.startswith("setup (model build, FLOP count) took"))
    assert float(setup.split("took ")[1].split(" s")[0]) >= 3.0


def test_a_setup_longer_than_the_limit_is_abandoned_and_fails_the_probe_saying_so(fast_config):
    limit = 2.0
    began = time.perf_counter()
    with pytest.raises(ProbeFailed, match=r"the 2 s time limit ran out during the setup \(model build, .*\), before any batch "
                                          r"size ran; give a longer --time-limit"):
        run_probe(fast_config(REF + "slow_build", time_limit_s=limit), began=began)
    assert time.perf_counter() - began <= (1 + OVER_FRACTION) * limit + SLACK_S


def test_the_noise_phase_stops_within_the_remaining_time(fast_config):
    limit = 3.0
    began = time.perf_counter()
    report = run_probe(fast_config(REF + "sleepy", max_batch=2, noise_steps=10_000, noise_train_steps=10_000,
                                   time_limit_s=limit), began=began)
    elapsed = time.perf_counter() - began
    assert elapsed <= bound(limit, report), elapsed
    assert any("time limit after" in w and "of 10000 steps" in w for w in report.warnings), report.warnings

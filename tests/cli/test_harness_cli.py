"""`--harness` from the command line: in the plan's request and assumptions, bad values one line."""

from __future__ import annotations

from pathlib import Path

from planner.contracts import Plan

from .conftest import assert_one_line_error, batchfit

TRACED_8B = str(Path(__file__).resolve().parents[2] / "tests/models/traced/llama3-8b-seq8192.json")
ARGS = ["plan", "--from-probe", TRACED_8B, "--tokens", "1e9", "--ref-batch", "16", "--ref-lr", "2e-4",
        "--budget", "1000000", "--deadline", "100000", "--gpus", "H100-SXM-80GB", "--max-nodes", "1", "--json"]


def test_a_traced_plan_says_it_assumes_a_tuned_stack_and_eager_is_slower():
    tuned, eager = batchfit(*ARGS), batchfit(*ARGS, "--harness", "eager")
    assert tuned.returncode == 0 and eager.returncode == 0, tuned.stderr + eager.stderr
    fast, slow = Plan.model_validate_json(tuned.stdout), Plan.model_validate_json(eager.stdout)
    assert slow.request.harness == "eager" and fast.request.harness is None
    assert any("--harness tuned" in a for a in fast.assumptions)
    assert any("--harness eager" in a for a in slow.assumptions)
    best = {c.id: c.tokens_per_s_per_gpu or 0 for c in fast.candidates}
    assert all(c.tokens_per_s_per_gpu and c.tokens_per_s_per_gpu < best[c.id] for c in slow.candidates if c.id in best)


def test_a_bad_harness_is_one_line():
    assert_one_line_error(batchfit(*ARGS, "--harness", "fast"), 2, "--harness")

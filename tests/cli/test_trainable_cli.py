"""`batchfit plan --trainable`: from the traced 8B fixture (no torch), and its one-line refusals."""

from __future__ import annotations

from tests.models import TRACED

from .conftest import REPORT, assert_one_line_error, batchfit

LIMITS = ["--tokens", "1e9", "--ref-batch", "16", "--ref-lr", "2e-4", "--budget", "1000000", "--deadline", "100000"]
LLAMA3_8B = str(TRACED / "llama3-8b-seq8192.json")


def test_a_lora_plan_says_what_it_trains_in_markdown():
    result = batchfit("plan", "--from-probe", LLAMA3_8B, *LIMITS, "--trainable", "lora:r=16", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "| trains | lora:r=16,targets=all-linear: 41,943,040 of 8,072,204,288 parameters (0.52%)" in result.stdout
    assert "weight-gradient matmuls skipped" in result.stdout


def test_bad_specs_and_lora_from_a_measured_probe_are_one_line_errors():
    assert_one_line_error(batchfit("plan", "--from-probe", LLAMA3_8B, *LIMITS, "--trainable", "lora:rank=8"),
                          2, "--trainable: lora: unknown key 'rank'")
    assert_one_line_error(batchfit("plan", "--from-probe", str(REPORT), *LIMITS, "--trainable", "0.1"),
                          2, "--trainable 0.1: a measured probe trained every parameter")

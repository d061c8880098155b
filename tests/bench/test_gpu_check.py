"""scripts/gpu-check on a machine without CUDA: `--only` runs the named stages (their CPU-sized logic)
and refuses unknown ones; the CUDA-only AdamW graph benchmark is skipped, and refuses a CPU itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu-check"
BENCH = SCRIPT.parents[1] / "bench" / "kernel_bench" / "adamw.py"

ENV = os.environ | {"PYTHON": sys.executable}  # the interpreter running the tests, which has torch

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU stand-in stages exist only without CUDA")


def test_only_runs_the_named_stage_and_writes_its_summary(tmp_path):
    done = subprocess.run([str(SCRIPT), str(tmp_path), "--only", "compile"], capture_output=True, text=True,
                          timeout=300, env=ENV | {"BATCHFIT_COMMIT": "feedc0de"})
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(s["name"], s["status"]) for s in summary["stages"]] == [("compile", "ok")]
    assert summary["environment"]["commit"] == "feedc0de"
    result = json.loads((tmp_path / "compile.json").read_text())
    assert result["header"]["commit"] == "feedc0de" and result["header"]["card"].startswith("cpu")
    assert result["rows"][0]["backend"] == "aot_eager" and result["rows"][0]["compiled_step_s"] > 0


def test_without_cuda_the_graph_benchmark_is_skipped_and_says_why(tmp_path):
    done = subprocess.run([str(SCRIPT), str(tmp_path), "--only", "adamw-graph"], capture_output=True, text=True,
                          timeout=120, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    stages = json.loads((tmp_path / "summary.json").read_text())["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("adamw-graph", "skipped: no CUDA device")]


def test_the_graph_benchmark_refuses_a_cpu_in_one_line():
    done = subprocess.run([sys.executable, str(BENCH), "--graph", "--device", "cpu"], capture_output=True, text=True,
                          timeout=120, env=os.environ | {"PYTHONPATH": str(SCRIPT.parents[1])})
    assert done.returncode == 2
    assert done.stderr.strip() == "adamw.py --graph needs CUDA (it times CUDA graphs); nothing measured"


def test_an_unknown_stage_is_refused_with_the_list(tmp_path):
    done = subprocess.run([str(SCRIPT), str(tmp_path), "--only", "precision,sweep-stabilty"], capture_output=True,
                          text=True, timeout=60, env=ENV)
    assert done.returncode == 2
    assert "unknown stage(s) sweep-stabilty" in done.stderr
    assert "stages: traced-vs-real, precision, adamw-graph, sweep-stability, compile, kernel-tests" in done.stderr
    assert not (tmp_path / "summary.json").exists()

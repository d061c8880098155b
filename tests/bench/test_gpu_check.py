"""scripts/gpu-check on a machine without CUDA: `--only` runs the named stages and refuses others."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu-check"

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU stand-in stages exist only without CUDA")


def test_only_runs_the_named_stage_and_writes_its_summary(tmp_path):
    done = subprocess.run([str(SCRIPT), str(tmp_path), "--only", "probe-gpt-tiny-cpu"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    stages = json.loads((tmp_path / "summary.json").read_text())["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("probe-gpt-tiny-cpu", "ok")]
    report = json.loads((tmp_path / "probe-gpt-tiny-cpu.json").read_text())
    assert report["noise_scale"] is not None or report["warnings"]


def test_an_unknown_stage_is_refused_with_the_list(tmp_path):
    done = subprocess.run([str(SCRIPT), str(tmp_path), "--only", "probe-gpt2-small-nois"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown stage(s) probe-gpt2-small-nois" in done.stderr and "probe-gpt2-small-noise-trained" in done.stderr
    assert not (tmp_path / "summary.json").exists()

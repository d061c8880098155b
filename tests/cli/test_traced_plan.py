"""`batchfit plan --model-config`: a Hugging Face config traced, then planned over layouts. Needs batchfit[hf]."""

from __future__ import annotations

import json

import pytest

from planner.contracts import Plan
from tests.models import HF_CONFIGS

from .conftest import assert_one_line_error, batchfit

pytest.importorskip("transformers")

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512, "hidden_size": 64,
        "intermediate_size": 160, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 128}
LIMITS = ["--ref-batch", "16", "--ref-lr", "3e-4", "--budget", "1000000", "--deadline", "100000", "--json"]


def test_a_config_plans_offline_with_layouts_and_checkpointing(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    result = batchfit("plan", "--model-config", str(config), "--seq-len", "64", "--tokens", "1e9", *LIMITS,
                      "--providers", "aws", "--layouts", "ddp,fsdp", "--recompute", "none,full")
    assert result.returncode == 0, result.stderr
    plan = Plan.model_validate_json(result.stdout)
    assert plan.probe.memory_fit is not None and plan.probe.memory_fit.provenance == "traced"
    assert {c.layout for c in plan.candidates} <= {"ddp", "fsdp"}
    assert {c.checkpointing for c in plan.candidates} <= {"none", "full"}
    assert any(c.layout == "fsdp" and c.gpu_count == 8 for c in plan.candidates)
    assert all(c.tokens_per_s_per_gpu and c.memory is not None for c in plan.candidates)


def test_a_saved_traced_report_plans_without_torch(tmp_path):
    config, report = tmp_path / "config.json", tmp_path / "traced.json"
    config.write_text(json.dumps(TINY))
    traced = batchfit("probe", "--model-config", str(config), "--seq-len", "64", "--out", str(report))
    assert traced.returncode == 0, traced.stderr
    assert "traced at seq 64" in traced.stdout
    result = batchfit("plan", "--from-probe", str(report), "--tokens", "1e9", *LIMITS)
    assert result.returncode == 0, result.stderr
    assert {c.layout for c in Plan.model_validate_json(result.stdout).candidates} == {"ddp", "zero1", "zero2", "fsdp", "hsdp"}


@pytest.mark.slow
def test_the_8b_config_lists_fully_sharded_candidates_on_8_h100():
    """The issue's done-when command."""
    result = batchfit("plan", "--model-config", str(HF_CONFIGS / "llama3-8b.json"), "--seq-len", "8192",
                      "--tokens", "1e11", *LIMITS)
    assert result.returncode == 0, result.stderr
    plan = Plan.model_validate_json(result.stdout)
    sharded = [c for c in plan.candidates if c.layout == "fsdp" and c.gpu_count == 8 and c.gpu == "H100-SXM-80GB"]
    assert sharded
    for c in sharded:
        assert c.memory_per_gpu_bytes <= c.memory_limit_bytes and c.tokens_per_s_per_gpu


def test_bad_model_configs_are_one_line_errors(tmp_path):
    assert_one_line_error(batchfit("plan", "--model-config", str(tmp_path / "nope.json"), "--tokens", "1e9"),
                          2, "no such file")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    assert_one_line_error(batchfit("plan", "--model-config", str(config), "--seq-len", "64", "--layouts", "ddp,tp",
                                   "--tokens", "1e9"), 2, "--layouts: Input should be 'ddp', 'zero1', 'zero2', 'fsdp' or 'hsdp'")
    assert_one_line_error(batchfit("probe", "--model-config", str(config), "--max-batch", "4"), 2,
                          "--max-batch apply to a probe that runs")

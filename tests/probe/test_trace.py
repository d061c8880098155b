"""The traced probe (planner/probe/trace.py) against a real CPU step of the same small model, and
the shipped Hugging Face configs against their published sizes. Needs batchfit[hf]."""

from __future__ import annotations

import json

import pytest

transformers = pytest.importorskip("transformers")
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from planner.errors import BadInput
from planner.models import hf
from planner.probe import trace
from planner.probe.flops import _ATTENTION
from tests.models import HF_CONFIGS

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512, "hidden_size": 64,
        "intermediate_size": 160, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 128, "tie_word_embeddings": False}
SEQ = 64


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY))
    return path


def real_step(config, checkpointing, batch: int) -> tuple[float, float]:
    """(FLOPs, peak bytes above weights and batch) of a real fp32 CPU step with real weights: the
    peak from the allocator's own events (torch.profiler), the FLOPs from a second step."""
    torch.manual_seed(0)
    cfg = hf.load_config(str(config))
    cfg.use_cache = False
    model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa").train()
    trace.set_checkpointing(model, checkpointing)
    ids = torch.randint(0, TINY["vocab_size"], (batch, SEQ))
    with trace._drop_grads(model), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(input_ids=ids, labels=ids).loss.backward()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    counter = FlopCounterMode(display=False, custom_mapping=_ATTENTION)
    with trace._drop_grads(model), counter:
        model(input_ids=ids, labels=ids).loss.backward()
    return float(counter.get_total_flops()), float(peak)


@pytest.mark.parametrize("checkpointing", ["none", "selective", "full"])
def test_trace_matches_a_real_cpu_step(tiny, checkpointing):
    report = trace.trace_config(str(tiny), SEQ, precision="fp32", modes=(checkpointing,))
    mode = report.trace.mode(checkpointing)
    flops, peak = real_step(tiny, checkpointing, batch=3)
    assert 3 * mode.flops_per_sample == flops  # exact: extrapolated from depths 1-2 to 4 layers
    assert 0 < mode.attention_flops_per_sample < mode.flops_per_sample  # causal attention, counted apart
    if checkpointing == "none":
        assert report.model.attention_flops_per_sample == mode.attention_flops_per_sample
    predicted = mode.transient_bytes + 3 * mode.activation_bytes_per_sample
    assert predicted == pytest.approx(peak, rel=0.10)


def test_a_traced_report_says_traced(tiny):
    report = trace.trace_config(str(tiny), SEQ, precision="fp32", modes=("none",))
    assert report.model.flops_provenance == "traced" and report.memory_fit.provenance == "traced"
    assert report.points == [] and report.stop_reason.startswith("traced")
    assert report.model.params == report.model.trainable_params > 0
    assert report.trace.optimizer_state_bytes == 8 * report.model.params
    assert report.trace.units == 5 and report.trace.layers == 4


def test_a_trace_records_the_linear_layers_by_name_and_shape(tiny):
    """What LoRA adapts and QLoRA quantises: every layer's projections at the config's sizes, and the head."""
    report = trace.trace_config(str(tiny), SEQ, precision="fp32", modes=("none",))
    shapes = {(g.leaf, g.in_features, g.out_features, g.count, g.head) for g in report.trace.linears}
    assert shapes == {("q_proj", 64, 64, 4, False), ("k_proj", 64, 32, 4, False), ("v_proj", 64, 32, 4, False),
                      ("o_proj", 64, 64, 4, False), ("gate_proj", 64, 160, 4, False),
                      ("up_proj", 64, 160, 4, False), ("down_proj", 160, 64, 4, False), ("lm_head", 64, 512, 1, True)}
    assert report.trace.linears[0].name == "model.layers.*.self_attn.q_proj"


@pytest.mark.parametrize("name,params", [
    ("gpt2", 124_439_808),  # the gpt2 model card's 124M
    ("llama-1b", 1_235_814_400),  # Llama-3.2-1B: 1.24B
    ("llama3-8b", 8_030_261_248),  # Llama-3-8B: 8.03B
    ("mistral-7b", 7_241_732_096),  # Mistral-7B-v0.1: 7.24B
    ("llama-70b", 70_553_706_496),  # Llama-3-70B: 70.6B
])
def test_shipped_configs_build_on_meta_at_their_published_size(name, params):
    model = hf.build_meta_model(hf.load_config(str(HF_CONFIGS / f"{name}.json")), torch.bfloat16)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == params


def test_bad_configs_are_one_line_errors(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        hf.load_config(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BadInput, match="is not JSON"):
        hf.load_config(str(tmp_path / "bad.json"))
    (tmp_path / "typeless.json").write_text("{}")
    with pytest.raises(BadInput, match="no model_type"):
        hf.load_config(str(tmp_path / "typeless.json"))


def test_a_sequence_beyond_the_position_table_is_refused(tiny):
    with pytest.raises(BadInput, match="exceeds the config's max_position_embeddings 128"):
        trace.trace_config(str(tiny), 4096)

"""batchfit's LoRA count (planner/plan/trainable.py, from the trace's linear shapes) against peft's own
count of the same tiny Llama. Needs batchfit[peft]."""

from __future__ import annotations

import json

import pytest

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from planner.models import hf
from planner.plan import trainable
from planner.probe import trace

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512, "hidden_size": 64,
        "intermediate_size": 160, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 128, "tie_word_embeddings": False}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "config.json"
    path.write_text(json.dumps(TINY))
    return path, trace.trace_config(str(path), 32, precision="fp32", modes=("none",))


@pytest.mark.parametrize("spec, targets", [
    ("lora:r=16", "all-linear"),
    ("lora:r=8,targets=q,v", ["q_proj", "v_proj"]),
    ("qlora:r=4,targets=gate,up,down,o", ["gate_proj", "up_proj", "down_proj", "o_proj"]),
])
def test_the_adapter_count_is_peft_s(tiny, spec, targets):
    path, report = tiny
    ours = trainable.resolve(spec, report, "fp32")
    assert ours is not None
    model = transformers.AutoModelForCausalLM.from_config(hf.load_config(str(path)))
    rank = int(spec.split("r=")[1].split(",")[0])
    lora = peft.get_peft_model(model, peft.LoraConfig(r=rank, target_modules=targets, task_type="CAUSAL_LM"))
    trained, total = lora.get_nb_trainable_parameters()
    assert (ours.trained_params, ours.params) == (trained, total)

"""LoRA, QLoRA and partial fine-tunes (planner/plan/trainable.py) on the traced Llama-3-8B fixture:
the closed-form adapter count, memory and FLOPs by hand, and the plan that fits one 48 GB GPU."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from planner.cli.flags import flag_error
from planner.cli.plan_cmd import REQUEST_FLAGS
from planner.contracts import PlanRequest, ReferenceRun, Workload
from planner.errors import BadInput
from planner.plan import parallel, trainable
from planner.plan.build import build_plan
from planner.plan.step_time import StepTimeModel
from planner.report_file import load_probe_report, parse_probe_report
from providers.catalog import load_catalog
from tests.models import TRACED

LLAMA3_8B = load_probe_report(TRACED / "llama3-8b-seq8192.json")
BASE = 8_030_261_248  # Llama-3-8B's published size
# Per layer: q, o 4096x4096; k, v 4096x1024; gate, up 4096x14336; down 14336x4096.
LAYER_WEIGHTS = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336  # 218,103,808
QUANTIZED = 32 * LAYER_WEIGHTS  # 6,979,321,856: every linear but lm_head
HEAD = 4096 * 128256


def request(spec: str, **extra: object) -> PlanRequest:
    return PlanRequest(model="llama3-8b", workload=Workload(tokens=10**9), budget_usd=1e6, deadline_hours=1e5,
                       reference=ReferenceRun(batch_size=16, lr=2e-4), trainable=spec, **extra)


@pytest.mark.parametrize("text, canonical", [
    ("full", "full"),
    ("lora:r=16", "lora:r=16,targets=all-linear"),
    ("qlora:r=64,alpha=16", "qlora:r=64,alpha=16,targets=all-linear"),
    ("lora:r=8,targets=q,k,v,o,alpha=16", "lora:r=8,alpha=16,targets=q,k,v,o"),
    (" 0.05 ", "0.05"),
])
def test_specs_are_stored_in_one_spelling(text, canonical):
    assert request(text).trainable == canonical


@pytest.mark.parametrize("text, needle", [
    ("lora", "needs a rank"), ("lora:alpha=8", "needs a rank"), ("lora:r=0", "1..65536"),
    ("lora:r=x", "whole number"), ("lora:r=8,rank=4", "unknown key 'rank'"), ("lora:r=8,r=4", "repeated"),
    ("lora:r=8,targets=all-linear,q", "all-linear alone"), ("qlora:r=8,targets=q-proj", "module names"),
    ("1.5", "strictly between 0 and 1"), ("0", "strictly between"), ("half", "not a trainable spec"),
    ("lora:r=8,alpha=-1", "positive"),
])
def test_bad_specs_are_one_line_errors_naming_the_flag(text, needle):
    with pytest.raises(ValidationError) as caught:
        request(text)
    message = flag_error(caught.value, REQUEST_FLAGS)
    assert message.startswith("--trainable: ") and needle in message and "\n" not in message


def test_the_lora_count_is_the_closed_form_r_times_in_plus_out():
    """Llama-3-8B, r=16 on q,k,v,o,gate,up,down: per layer 16 x ((4096+4096) + 2(4096+1024) + (4096+4096)
    + 2(4096+14336) + (14336+4096)) = 16 x 81,920 = 1,310,720; x 32 layers = 41,943,040."""
    named = trainable.resolve("lora:r=16,targets=q,k,v,o,gate,up,down", LLAMA3_8B, "bf16")
    every = trainable.resolve("lora:r=16", LLAMA3_8B, "bf16")  # all-linear: the same seven, lm_head left out
    assert named is not None and every is not None
    assert named.trained_params == every.trained_params == 41_943_040
    assert named.frozen_params == BASE and named.params == BASE + 41_943_040
    qv = trainable.resolve("lora:r=16,targets=q_proj,v", LLAMA3_8B, "bf16")
    assert qv is not None and qv.trained_params == 16 * ((4096 + 4096) + (4096 + 1024)) * 32  # 6,815,744


def test_unknown_targets_and_measured_or_old_reports_are_refused(report):
    with pytest.raises(BadInput, match="no linear layer is named wq .*q_proj, k_proj"):
        trainable.resolve("lora:r=16,targets=wq", LLAMA3_8B, "bf16")
    with pytest.raises(BadInput, match="a measured probe trained every parameter"):
        trainable.resolve("lora:r=16", report, "bf16")
    old = LLAMA3_8B.model_dump(mode="json")
    old["schema_version"] = 4
    del old["trace"]["linears"]
    with pytest.raises(BadInput, match="traced before probe schema 5"):
        trainable.resolve("0.1", parse_probe_report(old, "old.json"), "bf16")
    assert trainable.resolve("full", report, "bf16") is None


def test_lora_memory_on_one_gpu_by_hand():
    """bf16: the frozen base at 2 B, no master and no copy; the adapters' fp32 master and gradient,
    AdamW's 8 B and a 2 B compute copy."""
    trained = trainable.resolve("lora:r=16", LLAMA3_8B, "bf16")
    states = parallel.states_of(LLAMA3_8B, "bf16", "adamw", trained)
    m = parallel.state_memory(states, "ddp", 1)
    adapters = 41_943_040
    assert m.params == 4 * adapters + 2 * BASE  # 16,228,294,656
    assert (m.grads, m.optimizer, m.buffers) == (4 * adapters, 8 * adapters, 2 * adapters)
    full = parallel.state_memory(parallel.states_of(LLAMA3_8B, "bf16", "adamw"), "ddp", 1)
    assert full.params + full.grads + full.optimizer + full.buffers == 18 * BASE  # 4 + 4 + 8 + 2 B per parameter
    fsdp = parallel.state_memory(states, "fsdp", 8)
    assert fsdp.params == pytest.approx(m.params / 8) and fsdp.grads == pytest.approx(m.grads / 8)
    # two units in flight, the largest the root (embedding + head, 1,050,677,248), gathered at bf16 (2 B, frozen
    # or copied alike), and its gradient buffer holding its adapters' share only
    unit = 1_050_677_248
    assert fsdp.buffers == pytest.approx(2 * unit * 2 + unit * 4 * adapters / (BASE + adapters))


def test_the_adapters_tensors_count_toward_the_host_time_prior():
    trained = trainable.resolve("lora:r=16", LLAMA3_8B, "bf16")
    assert trained is not None and trained.adapter_tensors == 2 * 7 * 32  # A and B on 7 linears x 32 layers
    lora, full = StepTimeModel(LLAMA3_8B, None, "bf16", trained=trained), StepTimeModel(LLAMA3_8B, None, "bf16")
    assert lora.param_tensors == full.param_tensors + 448 and lora.host_s > full.host_s
    assert lora.trained_params == 41_943_040 and full.trained_params == BASE


def test_qlora_memory_by_hand():
    """QLoRA: the 32 layers' linears (6,979,321,856 weights) at 0.5 + 0.127/8 = 0.515875 B = 3.60 GB;
    the embedding, lm_head and norms (1,050,939,392) at bf16 = 2.10 GB; 5.70 GB in all. (Were every
    parameter 4-bit: 8.03e9 x 0.515875 = 4.14 GB; bitsandbytes leaves the embedding and head out.)
    In flight: one 4096 x 14336 weight dequantised to bf16, 117 MB."""
    trained = trainable.resolve("qlora:r=16", LLAMA3_8B, "bf16")
    assert trained is not None
    assert trained.frozen_bytes == pytest.approx(QUANTIZED * 0.515875 + (BASE - QUANTIZED) * 2)
    assert trained.frozen_bytes == pytest.approx(5.7023e9, rel=1e-4)
    assert trained.dequant_bytes == 4096 * 14336 * 2
    m = parallel.state_memory(parallel.states_of(LLAMA3_8B, "bf16", "adamw", trained), "ddp", 1)
    assert m.params == pytest.approx(4 * 41_943_040 + trained.frozen_bytes)
    assert m.buffers == pytest.approx(2 * 41_943_040 + 4096 * 14336 * 2)


def test_a_fraction_trains_that_share():
    trained = trainable.resolve("0.05", LLAMA3_8B, "fp32")
    assert trained is not None and trained.trained_params == round(0.05 * BASE)
    assert trained.frozen_bytes == 4 * (BASE - trained.trained_params)  # fp32: frozen weights stay 4 B


def test_a_frozen_base_skips_its_weight_gradients():
    """No checkpointing: F - seq x 2 x (layers' and head's weights) + 3 x seq x 2r(in + out); the matmul
    part falls from 3F to about 2F. Full checkpointing adds the adapters' forward once more."""
    trained = trainable.resolve("lora:r=16", LLAMA3_8B, "bf16")
    assert trained is not None
    none, full = LLAMA3_8B.trace.mode("none"), LLAMA3_8B.trace.mode("full")
    skipped = 8192 * 2 * (QUANTIZED + HEAD)  # 1.2296e14
    adapter = 8192 * 2 * 41_943_040  # 2 x r(in + out) summed = 2 x the adapter count, per token
    assert trainable.step_flops(trained, none, 8192) == pytest.approx(none.flops_per_sample - skipped + 3 * adapter)
    assert trainable.step_flops(trained, full, 8192) == pytest.approx(full.flops_per_sample - skipped + 4 * adapter)
    matmul = none.flops_per_sample - none.attention_flops_per_sample
    assert (matmul - skipped) / matmul == pytest.approx(2 / 3, abs=0.01)


def plan_of(spec: str):
    return build_plan(request(spec), LLAMA3_8B, load_catalog())


def single_mid_gpus(plan):
    return [c for c in plan.candidates if c.gpu_count == 1 and c.nodes == 1 and 24e9 <= _memory(c.gpu) <= 48e9]


def _memory(gpu: str) -> float:
    return load_catalog().gpus[gpu].memory_bytes


def test_lora_of_the_8b_fits_one_48gb_gpu_where_full_fine_tuning_does_not():
    lora = plan_of("lora:r=16")
    fits = single_mid_gpus(lora)
    assert fits and all(c.checkpointing == "full" and c.per_gpu_batch == 1 for c in fits)
    assert {c.gpu for c in fits} >= {"L40S-48GB"}
    assert all(c.meets_deadline and c.meets_budget and c.memory_per_gpu_bytes <= c.memory_limit_bytes for c in fits)
    assert lora.trainable is not None and lora.trainable.trained_params == 41_943_040
    full = plan_of("full")
    assert not single_mid_gpus(full)
    l40s = [e for e in full.excluded if "l40s" in e.offer.lower() and "1gpu" in e.offer.lower()]
    assert l40s and all(e.reason.startswith("memory: batch 1 needs") for e in l40s)
    assert lora.recommendation is not None


def test_qlora_of_the_8b_fits_more_per_48gb_gpu_than_lora():
    qlora = plan_of("qlora:r=16")
    fits = single_mid_gpus(qlora)
    assert fits and max(c.per_gpu_batch for c in fits if c.gpu == "L40S-48GB") == 2
    assert any("QLoRA" in a for a in qlora.assumptions)

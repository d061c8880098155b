"""Each layout's memory per GPU and bytes on the wire, on numbers checked by hand, and a traced
model planned through them (no torch: the trace is written here as a report would carry it)."""

from __future__ import annotations

import datetime as dt

import pytest

from planner.contracts import (
    DataInfo,
    DeviceInfo,
    MemoryFit,
    ModelInfo,
    PlanRequest,
    ProbeReport,
    ProbeSettings,
    ReferenceRun,
    Software,
    Workload,
)
from planner.contracts.probe import ModelTrace, TracedMode
from planner.errors import BadInput
from planner.plan import parallel
from planner.plan.build import build_plan

MIB25 = 25 * 2**20
# 1e9 parameters, all trained, AdamW (8 B each), bf16 compute copies; largest unit 1e8, root 2e8.
STATES = parallel.ModelStates(params=10**9, trainable=10**9, optimizer_bytes=8e9, compute_copy_bytes=2.0,
                              largest_unit_params=10**8, root_params=2 * 10**8)


@pytest.mark.parametrize("layout,params,grads,optimizer,buffers", [
    ("ddp", 4e9, 4e9, 8e9, 2e9 + MIB25),
    ("zero1", 4e9, 4e9, 1e9, 2e9 + MIB25),
    ("zero2", 4e9, 5e8, 1e9, 2e9 + MIB25),
    # two gathered bf16 units in flight (2 x 1e8 x 2 B) + one unit's fp32 gradient (1e8 x 4 B)
    ("fsdp", 5e8, 5e8, 1e9, 8e8),
])
def test_memory_per_gpu_over_8(layout, params, grads, optimizer, buffers):
    m = parallel.state_memory(STATES, layout, 8)
    assert (m.params, m.grads, m.optimizer, m.buffers, m.activations) == pytest.approx(
        (params, grads, optimizer, buffers, 0.0))


@pytest.mark.parametrize("layout,accumulation,all_reduce,all_gather,reduce_scatter", [
    ("ddp", 4, 2 * 7 / 8 * 4e9, 0, 0),  # one all-reduce per step whatever the accumulation
    ("zero1", 4, 0, 3.5e9, 3.5e9),  # gradients reduce-scattered once, updated fp32 shards gathered
    ("zero2", 2, 0, 3.5e9, 7e9),  # gradients reduce-scattered every micro-batch
    # forward gathers 1e9 bf16 params, backward all but the 2e8 of the root: 7/8 x 2 B x 1.8e9 per micro-batch
    ("fsdp", 1, 0, 7 / 8 * 2 * 1.8e9, 3.5e9),
    ("fsdp", 2, 0, 2 * 7 / 8 * 2 * 1.8e9, 7e9),
])
def test_collective_bytes_over_8(layout, accumulation, all_reduce, all_gather, reduce_scatter):
    c = parallel.collectives(STATES, layout, 8, accumulation)
    assert (c.all_reduce, c.all_gather, c.reduce_scatter) == pytest.approx((all_reduce, all_gather, reduce_scatter))


def test_one_gpu_sends_nothing():
    assert parallel.collectives(STATES, "ddp", 1).total == 0


def test_exposed_communication_is_capped_by_the_compute_it_hides_behind():
    # 7e9 bytes at 450 GB/s = 15.56 ms; half may hide, but only behind 1 ms of compute
    assert parallel.exposed_seconds(7e9, 450, compute_s=1e-3, overlap=0.5) == pytest.approx(7e9 / 450e9 - 1e-3)
    assert parallel.exposed_seconds(7e9, 450, compute_s=1.0, overlap=0.5) == pytest.approx(7e9 / 450e9 / 2)


def traced_report(params: int, layer_params: int, act_none: float, act_full: float, flops: float,
                  seq_len: int = 8192) -> ProbeReport:
    """A traced report as planner/probe/trace.py writes one."""
    trace = ModelTrace(source="test.json", method="test", compute_dtype="bf16", layers=80, units=81,
                       largest_unit_params=layer_params, root_params=params // 30, optimizer="adamw",
                       optimizer_state_bytes=8 * params, seconds=1.0,
                       modes=[TracedMode(checkpointing="none", flops_per_sample=flops, activation_bytes_per_sample=act_none),
                              TracedMode(checkpointing="full", flops_per_sample=flops * 4 / 3,
                                         activation_bytes_per_sample=act_full)])
    return ProbeReport(
        created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        device=DeviceInfo(kind="cpu", name="traced", memory_bytes=None, memory_source="unknown"),
        software=Software(python="3.11", torch="2.13", batchfit="0.1.0", platform="linux"),
        model=ModelInfo(id="traced", params=params, trainable_params=params, param_tensors=723, seq_len=seq_len,
                        flops_per_sample=flops, flops_provenance="traced", data=DataInfo(kind="synthetic", source="t")),
        settings=ProbeSettings(precision="bf16", kernels="torch", optimizer="adamw", max_batch=None, time_limit_s=0,
                               memory_cap_bytes=None, warmup_steps=0, timed_steps=0, plateau_gain=0),
        points=[], stop_reason="traced",
        memory_fit=MemoryFit(static_bytes=18.0 * params, per_sample_bytes=act_none, points_used=0,
                             max_relative_residual=0, provenance="traced"),
        trace=trace)


def request(**kw) -> PlanRequest:
    return PlanRequest(model="traced", workload=Workload(tokens=10**11), budget_usd=1e6, deadline_hours=1e5,
                       reference=ReferenceRun(batch_size=16, lr=3e-4), **kw)


def test_an_8b_model_plans_fully_sharded_on_8_h100(catalog):
    # Llama-3-8B-like: 8.03e9 params, 2.2e8 per layer, 73 GB/sample of activations (15 GB checkpointed)
    report = traced_report(8_030_000_000, 218_000_000, 73e9, 15e9, 4.9e14)
    plan = build_plan(request(), report, catalog)
    sharded = [c for c in plan.candidates if c.layout == "fsdp" and c.gpu_count == 8]
    assert sharded
    c = sharded[0]
    # 16 B/param over 8 GPUs + 2 gathered bf16 layers + one layer's fp32 gradient, + 15 GB per sample
    assert c.memory is not None and c.checkpointing == "full"
    assert c.memory.params + c.memory.grads + c.memory.optimizer == pytest.approx(16 * 8.03e9 / 8)
    assert c.memory.buffers == pytest.approx(2 * 2.18e8 * 2 + 2.18e8 * 4)
    assert c.memory_per_gpu_bytes == pytest.approx(c.memory.total)
    assert c.memory_per_gpu_bytes <= c.memory_limit_bytes
    assert c.tokens_per_s_per_gpu == pytest.approx(c.global_batch * 8192 / c.step_time_s / 8)
    # one GPU cannot hold 8e9 x 18 B: every single-H100 offer is excluded for memory
    single = [e for e in plan.excluded if "gpu_1x_h100" in e.offer]
    assert single and single[0].reason.startswith("memory: batch 1 needs")


def test_a_70b_model_does_not_fit_one_8x80gb_instance_with_ddp(catalog):
    report = traced_report(70_550_000_000, 856_000_000, 303e9, 24e9, 4.0e15)
    plan = build_plan(request(layouts=["ddp"]), report, catalog)
    assert plan.recommendation is None and not plan.candidates
    p5 = next(e for e in plan.excluded if e.offer.startswith("aws p5.48xlarge"))
    # DDP: 4 + 4 + 8 + 2 B per parameter on every GPU = 1,270 GB, + 24 GB of checkpointed activations
    assert "with DDP, full activation checkpointing over 8 GPUs" in p5.reason
    assert "needs 1293.9 GB per GPU" in p5.reason
    assert any("memory: batch 1 needs" in line for line in plan.infeasible)


def test_a_measured_probe_plans_ddp_only_and_says_so(catalog, report):
    plan = build_plan(request(), report, catalog)
    assert {c.layout for c in plan.candidates} == {"ddp"}
    with pytest.raises(BadInput, match="plans DDP only"):
        build_plan(request(layouts=["fsdp"]), report, catalog)

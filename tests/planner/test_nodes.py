"""Multi-node candidates: hierarchical collectives on hand-checked numbers, the HSDP split, N x pricing,
and the 70B fixture planned across nodes of 8 x 80 GB with the reason fewer nodes do not fit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from planner.contracts import PlanRequest, ReferenceRun, Workload
from planner.plan import parallel
from planner.plan.build import build_plan
from planner.plan.candidates import node_counts
from planner.report_file import load_probe_report
from providers.catalog import load_catalog
from providers.schema import Catalog, Fabric, PriceTable
from tests.gpu_specs import H100
from tests.planner.conftest import DAY, offer

ROOT = Path(__file__).resolve().parents[2]
# 1e9 parameters, all trained, AdamW, bf16 compute copies; largest unit 1e8, root 2e8 (as test_parallel.py).
STATES = parallel.ModelStates(params=10**9, trainable=10**9, optimizer_bytes=8e9, compute_copy_bytes=2.0,
                              largest_unit_params=10**8, root_params=2 * 10**8)
F = 3200e9 / 8  # 3,200 Gb/s of NICs per instance = 400e9 bytes/s, 50e9 per GPU over 8 GPUs
L = 450.0  # H100 NVLink, GB/s per GPU one direction


def test_ddp_over_2_nodes_of_8_splits_the_all_reduce_by_the_node_boundary():
    c = parallel.collectives(STATES, "ddp", 8, nodes=2)
    # G = 4e9 B of fp32 gradients. In the node: reduce-scatter + all-gather, 2 x 7/8 x 4e9 = 7e9 B per GPU
    # (15.56 ms at 450 GB/s). Across: each GPU all-reduces its 4e9/8 = 5e8 B shard with 1 peer,
    # 2 x 1/2 x 5e8 = 5e8 B over its 50e9 B/s rail = 10 ms = 2(N-1)/N x G / F.
    assert c.all_reduce == pytest.approx(7e9) and c.inter_node == pytest.approx(5e8)
    assert c.seconds(L, F, 8) == pytest.approx(7e9 / 450e9 + 0.010)


def test_fsdp_across_2_nodes_gathers_and_scatters_across_the_fabric_every_micro_batch():
    c = parallel.collectives(STATES, "fsdp", 8, accumulation=1, nodes=2)
    # U = 2 B x (2 x 1e9 - 2e8) = 3.6e9 B gathered, G = 4e9 B scattered per micro-batch.
    # In the node 7/8 of each: 3.15e9 + 3.5e9 = 6.65e9 B (14.78 ms). Across: (N-1)/N x (U + G) / g
    # = 1/2 x 7.6e9 / 8 = 4.75e8 B per GPU over 50e9 B/s = 9.5 ms = (N-1)/N x (U + G) / F.
    assert (c.all_gather, c.reduce_scatter) == pytest.approx((3.15e9, 3.5e9))
    assert c.inter_node == pytest.approx(4.75e8)
    assert c.seconds(L, F, 8) == pytest.approx(6.65e9 / 450e9 + 0.0095)
    # two micro-batches: twice the gathers and scatters, in the node and across
    assert parallel.collectives(STATES, "fsdp", 8, accumulation=2, nodes=2).inter_node == pytest.approx(9.5e8)


def test_hsdp_keeps_gathers_in_the_node_and_all_reduces_the_gradient_shard_across():
    c = parallel.collectives(STATES, "hsdp", 8, accumulation=2, nodes=2)
    # in the node: fsdp over 8 for each of 2 micro-batches, 2 x 6.65e9 B; across, once a step: each
    # GPU's 5e8 B gradient shard all-reduced with the other node, 2 x 1/2 x 5e8 = 5e8 B (10 ms)
    assert c.intra_node == pytest.approx(2 * 6.65e9) and c.inter_node == pytest.approx(5e8)
    assert parallel.collectives(STATES, "hsdp", 8, accumulation=1, nodes=2).seconds(L, F, 8) == pytest.approx(
        6.65e9 / 450e9 + 0.010)


def test_hsdp_shards_in_the_node_fsdp_over_every_gpu():
    hsdp = parallel.state_memory(STATES, "hsdp", parallel.shard_group("hsdp", 8, 2))
    fsdp = parallel.state_memory(STATES, "fsdp", parallel.shard_group("fsdp", 8, 2))
    # hsdp: 16 B/param over 8 GPUs; fsdp: over 16; both keep 2 bf16 units + one fp32 unit gradient in flight
    assert (hsdp.params, hsdp.grads, hsdp.optimizer, hsdp.buffers) == pytest.approx((5e8, 5e8, 1e9, 8e8))
    assert (fsdp.params, fsdp.grads, fsdp.optimizer, fsdp.buffers) == pytest.approx((2.5e8, 2.5e8, 5e8, 8e8))
    zero1 = parallel.state_memory(STATES, "zero1", parallel.shard_group("zero1", 8, 2))
    assert zero1.optimizer == pytest.approx(8e9 / 16)


def test_one_node_is_the_plain_ring():
    one = parallel.collectives(STATES, "fsdp", 8)
    assert one.inter_node == 0 and one.total == pytest.approx(7 / 8 * (3.6e9 + 4e9))


def test_node_counts_are_powers_of_two_and_the_limit():
    assert node_counts(16) == [1, 2, 4, 8, 16]
    assert node_counts(12) == [1, 2, 4, 8, 12]
    assert node_counts(1) == [1]


def _cluster_catalog() -> Catalog:
    offers = [offer("aws", "p5.48xlarge", H100, 8, 55.04), offer("lambda", "gpu_8x_h100_sxm5", H100, 8, 23.92,
                                                                  region="any")]
    fabrics = [Fabric(provider="aws", prefix="p5.", gbps=3200, technology="efa", source="test", as_of=DAY),
               Fabric(provider="lambda", prefix="gpu_", gbps=0, technology="none", source="sold one by one",
                      as_of=DAY)]
    table = PriceTable(name="test", origin="bundled", path="test", as_of=DAY, rows=len(offers))
    return Catalog(gpus={H100.name: H100}, offers=offers, tables=[table], fabrics=fabrics)


def _request(**kw: object) -> PlanRequest:
    return PlanRequest.model_validate({"model": "llama-70b", "workload": Workload(tokens=10**11),
                                       "reference": ReferenceRun(batch_size=16, lr=3e-4), "budget_usd": 1e6,
                                       "deadline_hours": 1e5, **kw})


def _report():
    return load_probe_report(ROOT / "tests/models/traced/llama-70b-seq8192.json")


def test_a_cluster_is_priced_n_times_the_instance_and_unclustered_offers_stay_on_one_node():
    plan = build_plan(_request(), _report(), _cluster_catalog(), now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert plan.candidates and {c.provider for c in plan.candidates} == {"aws"}
    for c in plan.candidates:
        assert c.price_per_hour == pytest.approx(55.04 * c.nodes) and c.total_gpus == 8 * c.nodes
        assert c.cost_usd == pytest.approx(c.hours * 55.04 * c.nodes, rel=1e-6)  # per-second billing
        assert c.tokens_per_s_per_gpu == pytest.approx(c.global_batch * 8192 / c.step_time_s / c.total_gpus)
    lam = next(e for e in plan.excluded if e.offer.startswith("lambda"))
    assert lam.nodes == [] and "not planned across nodes: sold one by one" in lam.reason


def test_the_70b_fits_across_nodes_of_8_h100_and_says_why_fewer_do_not():
    catalog = load_catalog(use_cache=False, today=dt.date(2026, 12, 1))
    plan = build_plan(_request(gpus=["H100-SXM-80GB"], layouts=["fsdp", "hsdp"], checkpointing=["full"]),
                      _report(), catalog, now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert plan.recommendation is not None
    c = plan.candidate(plan.recommendation.candidate_id)
    assert c.gpu == "H100-SXM-80GB" and c.gpu_count == 8 and c.nodes >= 8
    assert c.layout == "fsdp" and c.checkpointing == "full"  # hsdp keeps 1/8 of the states: 181.8 GB per GPU
    assert c.memory_per_gpu_bytes <= c.memory_limit_bytes and c.comm_inter_node_bytes > 0
    p5 = next(e for e in plan.excluded if e.offer == "aws p5.48xlarge on-demand (us-east-1)")
    # 16 B/param of 70.55e9 params over 8, 16, 32 GPUs + 16.8 GB of buffers + 23.9 GB of activations
    assert p5.nodes == [1, 2, 4]
    assert p5.reason.startswith("fewer than 8 nodes: 1 node: memory: batch 1 needs 181.8 GB per GPU with FSDP")
    assert "2 nodes (16 GPUs): 111.3 GB" in p5.reason and "4 nodes (32 GPUs): 76.0 GB" in p5.reason
    assert "leaves 71.0 GB usable" in p5.reason
    rows = [(r.nodes, r.pays) for r in plan.scaling]
    assert rows and all(n >= 8 for n, _ in rows)


def test_the_table_and_markdown_show_the_nodes_and_why_fewer_do_not_fit():
    from planner.view import render_markdown, render_table

    catalog = load_catalog(use_cache=False, today=dt.date(2026, 12, 1))
    plan = build_plan(_request(gpus=["H100-SXM-80GB"], layouts=["fsdp"], checkpointing=["full"]), _report(),
                      catalog, now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    c = plan.candidate(plan.recommendation.candidate_id)  # type: ignore[union-attr]
    assert c.label().endswith(f" {c.nodes} nodes x8 B={c.global_batch}")
    table = render_table(plan, width=200)
    assert f"{c.nodes} nodes × 8 × H100-SXM-80GB = {c.total_gpus} GPUs" in table
    assert "fewer nodes" in table and "across nodes" in table
    assert "1, 2, 4 nodes × 8 GPU" in table and "does not fit" in table  # the scaling section
    markdown = render_markdown(plan)
    assert "| nodes |" in markdown and f"| {c.nodes} | 8x H100-SXM-80GB |" in markdown


def test_a_tcp_or_unverified_fabric_says_so_in_the_candidates_note():
    from planner.plan.shapes import fabric_note

    tcp = Fabric(provider="aws", prefix="g5.xlarge", gbps=10, technology="tcp", source="unverified: up to 10",
                 as_of=DAY)
    note = fabric_note(tcp, 4)
    assert note is not None and note.startswith("4 nodes joined by 10 Gb/s TCP per instance")
    assert "no fast fabric" in note and "unverified" in note
    efa = Fabric(provider="aws", prefix="p5.", gbps=3200, technology="efa", source="aws.amazon.com", as_of=DAY)
    assert fabric_note(efa, 2) == "2 nodes joined by 3,200 Gb/s EFA per instance (pricing/fabric.csv)"
    assert fabric_note(efa, 1) is None


def test_an_unknown_gpu_in_gpus_is_bad_input_naming_the_choices():
    from planner.errors import BadInput

    with pytest.raises(BadInput, match=r"--gpus X100-80GB: no offer has it; choose from H100-SXM-80GB"):
        build_plan(_request(gpus=["X100-80GB"]), _report(), _cluster_catalog())

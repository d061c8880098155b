"""Precision per GPU: bf16 only where supported (fp16 elsewhere), TF32 for fp32 convolutions, not matmuls."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.contracts import (
    ModelInfo,
    PlanRequest,
    ProbeReport,
    ReferenceRun,
    Workload,
)
from planner.plan import priors
from planner.plan.build import build_plan
from planner.plan.offer_rate import OfferRate
from planner.plan.step_time import StepTimeModel, ceilings, run_precision
from planner.report_file import load_probe_report
from providers.catalog import load_catalog
from providers.schema import Catalog, GpuSpec, Offer
from tests.gpu_specs import A100, T4

RESNET50_CPU = Path(__file__).resolve().parents[2] / "bench" / "results" / "resnet50-cpu-bf16.json"


def with_conv_share(report: ProbeReport, share: float) -> ProbeReport:
    model = ModelInfo.model_validate(report.model.model_dump() | {"conv_flops_fraction": share})
    return ProbeReport.model_validate(report.model_dump() | {"model": model.model_dump()})


def test_bf16_runs_as_fp16_where_the_gpu_has_no_bf16():
    assert run_precision(T4, "bf16") == "fp16"
    assert run_precision(A100, "bf16") == "bf16"
    assert ceilings(T4, "bf16", False) == ((65, "fp16"), (65, "fp16"))
    assert T4.peak_tflops("tf32") == 8.1 and A100.peak_tflops("tf32") == 156  # no TF32: the FP32 units


def test_fp16_on_t4_at_the_fp16_ceiling(report: ProbeReport):
    model = StepTimeModel(report, None, "bf16")
    eff = priors.compute_efficiency(T4, "fp16")
    step = model.predict(T4, 1, 4, 1)
    assert step.compute_s == pytest.approx(6e11 * 4 / (65e12 * eff))  # flops/sample 6e11 in the fixture
    assert StepTimeModel(report, None, "fp16").predict(T4, 1, 4, 1).seconds == step.seconds


def test_a_bf16_plan_names_fp16_on_the_t4_candidates(report: ProbeReport, catalog: Catalog):
    request = PlanRequest(model="test-model", workload=Workload(samples=1_000_000),
                          reference=ReferenceRun(batch_size=4, lr=1e-3), precision="bf16")
    plan = build_plan(request, report, catalog)
    t4 = [c for c in plan.candidates if c.gpu == T4.name]
    assert t4 and all(c.precision == "fp16" for c in t4)
    assert all(any("no bf16: planned in fp16" in n for n in c.notes) for c in t4)
    assert all(c.precision == "bf16" for c in plan.candidates if c.gpu != T4.name)


def test_fp32_follows_torch_defaults_tf32_convolutions_not_matmuls():
    assert ceilings(A100, "fp32", False) == ((19.5, "fp32"), (156, "tf32"))
    assert ceilings(A100, "fp32", True) == ((156, "tf32"), (156, "tf32"))
    assert ceilings(T4, "fp32", True) == ((8.1, "fp32"), (8.1, "fp32"))  # no TF32 before Ampere


def test_fp32_convolution_vs_fp32_matmul_on_an_a100(report: ProbeReport):
    tensor = priors.compute_efficiency(A100, "tf32")  # the tensor cores' fitted prior at the TF32 ridge point
    conv_eff = priors.compute_efficiency(A100, "tf32", 1.0)
    fp32_eff = priors.compute_efficiency(A100, "fp32")
    convnet = StepTimeModel(with_conv_share(report, 1.0), None, "fp32")
    assert convnet.predict(A100, 1, 1, 1).compute_s == pytest.approx(6e11 / (156e12 * conv_eff))
    matmuls = StepTimeModel(with_conv_share(report, 0.0), None, "fp32")
    assert matmuls.predict(A100, 1, 1, 1).compute_s == pytest.approx(6e11 / (19.5e12 * fp32_eff))
    tf32 = StepTimeModel(with_conv_share(report, 0.0), None, "fp32", tf32_matmul=True)
    assert tf32.predict(A100, 1, 1, 1).compute_s == pytest.approx(6e11 / (156e12 * tensor))
    # half the FLOPs in each class: the time adds up per class
    mixed = StepTimeModel(with_conv_share(report, 0.5), None, "fp32").predict(A100, 1, 1, 1).compute_s
    assert mixed == pytest.approx(3e11 / (19.5e12 * fp32_eff) + 3e11 / (156e12 * conv_eff))


def test_quotes_give_each_gpu_its_own_batch_and_rank_h100_over_a100_over_t4():
    report = load_probe_report(RESNET50_CPU)
    catalog = load_catalog(use_cache=False)
    rate = OfferRate(report, catalog.gpus)

    def one_gpu(name: str) -> tuple[float, int | None]:
        offer = next(o for o in catalog.offers if o.gpu == name and o.gpu_count == 1)
        r = rate(offer, catalog.gpus[name])
        return r.samples_per_s, r.batch_per_gpu

    h100, a100, t4 = one_gpu("H100-SXM-80GB"), one_gpu("A100-SXM-80GB"), one_gpu("T4-16GB")
    assert h100[0] > a100[0] > t4[0]
    assert t4[1] is not None and a100[1] is not None and t4[1] < a100[1]  # 16 GB holds a smaller batch than 80 GB
    best = report.best_point()
    assert best is not None and h100[1] != best.batch_size  # not the CPU probe's own best batch


def test_an_offer_that_fits_nothing_has_no_rate(report: ProbeReport):
    tiny = GpuSpec.model_validate(T4.model_dump() | {"memory_gb": 1.0})
    offer = Offer(provider="x", instance="y", region="any", market="on-demand", gpu=tiny.name, gpu_count=1,
                  price_per_hour=1.0, source="test", as_of=T4.as_of)
    assert OfferRate(report, {tiny.name: tiny})(offer, tiny).samples_per_s == 0.0

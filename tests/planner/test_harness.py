"""--harness: a traced model's step times assume a tuned FSDP stack, a measured one the eager steps it ran.

The tuned prior is the fit's tuned class: e = e0[op] x (R / R0)^b_tuned x h[mosaicml-llm-foundry]
(pricing/priors_fit.json), where the eager one is e0[op] x (R / R0)^b_eager.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.plan import fitted_priors, priors
from planner.plan.step_time import StepTimeModel
from planner.report_file import load_probe_report
from providers.rules import pricing_dir
from tests.gpu_specs import A100, H100

from .conftest import make_report, point

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def traced():
    return load_probe_report(ROOT / "tests/models/traced/llama3-8b-seq8192.json")


def test_the_tuned_efficiency_on_an_h100_by_hand():
    raw = json.loads((pricing_dir() / "priors_fit.json").read_text(encoding="utf-8"))
    e0, r0 = raw["efficiency_at_reference"]["matmul"], raw["ridge_reference_flop_per_byte"]
    ridge = H100.bf16_tflops * 1e12 / (H100.bandwidth_gbs * 1e9)  # 989 TFLOP/s over 3,350 GB/s: 295 FLOP/byte
    tuned = e0 * (ridge / r0) ** raw["ridge_slope"]["tuned"] * raw["harness_factor"]["mosaicml-llm-foundry"]
    eager = e0 * (ridge / r0) ** raw["ridge_slope"]["eager"]
    assert priors.compute_efficiency(H100, "bf16", harness="tuned") == pytest.approx(tuned)
    assert priors.compute_efficiency(H100, "bf16") == pytest.approx(eager)
    # 0.3286 x 1.968^-0.399 x 1.696 = 0.426 against 0.3286 / 1.968 = 0.167: big matmuls are not launch-bound
    assert tuned == pytest.approx(0.426, abs=0.005) and eager == pytest.approx(0.167, abs=0.005)


def test_a_traced_model_defaults_to_tuned_and_a_measured_one_to_eager(traced):
    assert StepTimeModel(traced, None, "bf16").harness == "tuned"
    measured = make_report([point(8, 0.2, 10**9), point(16, 0.3, 2 * 10**9)])
    assert StepTimeModel(measured, None, "bf16").harness == "eager"
    assert StepTimeModel(measured, None, "bf16", harness="tuned").harness == "tuned"


def test_eager_on_a_traced_model_slows_the_compute_by_the_efficiency_ratio(traced):
    tuned, eager = StepTimeModel(traced, None, "bf16"), StepTimeModel(traced, None, "bf16", harness="eager")
    for gpu in (H100, A100):
        fast, slow = tuned.predict(gpu, 1, 1, 1), eager.predict(gpu, 1, 1, 1)
        ratio = priors.compute_efficiency(gpu, "bf16", harness="tuned") / priors.compute_efficiency(gpu, "bf16")
        assert slow.compute_s / fast.compute_s == pytest.approx(ratio, rel=1e-6)
        assert "tuned: mosaicml-llm-foundry" in (fast.basis or "") and "tuned" not in (slow.basis or "")
    # the tuned slope is flatter: an H100 gains more over an A100 than eager steps do (2.3x vs 1.6x here)
    h100_over_a100 = tuned.predict(A100, 1, 1, 1).compute_s / tuned.predict(H100, 1, 1, 1).compute_s
    eager_gain = eager.predict(A100, 1, 1, 1).compute_s / eager.predict(H100, 1, 1, 1).compute_s
    assert h100_over_a100 > eager_gain


def test_the_harness_source_is_a_tuned_source_of_the_fit():
    fit = fitted_priors.fitted()
    assert fitted_priors.TUNED_HARNESS_SOURCE in fit.harness_factor
    assert fitted_priors.TUNED_HARNESS_SOURCE in fit.sources

"""The throughput data loads, the priors refit to exactly the committed file, and plans say so."""

import math
import shutil
from pathlib import Path

import pytest

from planner.plan import calibration as cal
from planner.plan import fitted_priors, priors
from planner.plan.priors_fit import PRIORS_FIT_FILE, build_fit, render
from planner.plan.step_time import StepTimeModel
from planner.plan.throughput_data import ThroughputDataError, load_throughput
from providers.rules import pricing_dir

from .conftest import A100, H100, T4, make_report, point


@pytest.fixture(scope="module")
def data():
    return load_throughput()


def test_bundled_rows_load_with_their_shapes_and_gpus(data):
    assert len(data.rows) >= 30
    assert {r.source for r in data.rows} >= {"batchfit-h200", "mlperf-v0.7-nvidia", "mosaicml-llm-foundry"}
    generations = {data.gpus[r.gpu].generation for r in data.rows}
    assert {"volta", "ampere", "hopper"} <= generations
    assert {data.shapes[r.model].family for r in data.rows} >= {"cnn", "encoder", "decoder"}
    assert all(r.url and r.as_of.year >= 2019 for r in data.rows)


def test_refit_is_deterministic_and_equals_the_committed_priors(data):
    first, second = render(build_fit(data)), render(build_fit(load_throughput()))
    assert first == second
    committed = (Path(pricing_dir()) / PRIORS_FIT_FILE).read_text(encoding="utf-8")
    assert first == committed, "pricing/priors_fit.json is stale: run python -m planner.plan.priors_fit --write"


def test_the_planner_reads_the_fitted_numbers(data):
    fit = build_fit(data)
    loaded = fitted_priors.fitted()
    assert loaded.efficiency_at_reference == fit["efficiency_at_reference"]
    assert loaded.host_s_per_param_tensor == priors.host_s_per_param_tensor() == fit["host_s_per_param_tensor"]
    assert loaded.fitted_rows == fit["fitted_rows"] == len(fit["rows"])
    ridge = H100.peak_tflops("bf16") * 1e12 / (H100.bandwidth_gbs * 1e9)
    expected = fit["efficiency_at_reference"]["matmul"] * (ridge / 150.0) ** fit["ridge_slope"]["eager"]
    assert priors.compute_efficiency(H100, "bf16") == pytest.approx(expected)
    assert fit["eager_efficiency_by_gpu"]["H100-SXM-80GB"]["matmul"] == pytest.approx(expected, rel=1e-5)


def test_each_fitted_row_is_reproduced_by_its_implied_efficiency(data):
    for row in cal.fit_rows(data):
        e = cal.implied_efficiency(data, row)
        assert cal.predicted_throughput(data, row, math.log(e)) == pytest.approx(row.samples_per_s, rel=1e-9)


def test_slopes_stay_between_compute_bound_and_memory_bound(data):
    model = cal.fit_efficiency(data)
    assert all(-1.0 <= b <= 0.0 for b in model.b.values())
    # a GPU with more FLOP per byte of bandwidth gets a smaller share of its peak
    assert priors.compute_efficiency(H100, "bf16") < priors.compute_efficiency(A100, "bf16")


def test_leave_one_source_out_never_uses_the_source_it_judges(data, monkeypatch):
    seen: list[str | None] = []
    real = cal.fit_efficiency

    def spy(d, exclude=None, fixed_slopes=None):
        seen.append(exclude)
        return real(d, exclude, fixed_slopes)

    monkeypatch.setattr(cal, "fit_efficiency", spy)
    errors = cal.leave_one_source_out(data)
    assert {e.source for e in errors} == {s for s in seen if s}
    for e in errors:
        assert e.gpu != e.reference_gpu and e.published > 0 and e.predicted > 0


def test_a_prior_step_time_names_its_rows_and_error_band(report):
    step = StepTimeModel(report, None, "bf16").predict(T4, 1, 2, 1)
    fit = fitted_priors.fitted()
    assert step.provenance == "prior"
    assert step.basis == fit.basis()
    assert f"fitted on {fit.fitted_rows} rows from" in step.basis and "leave-one-source-out" in step.basis
    measured = StepTimeModel(make_report([point(8, 0.2, 10**9), point(16, 0.3, 2 * 10**9)],
                                         device=_h100_device()), H100, "bf16").predict(H100, 1, 8, 1)
    assert measured.basis is None


def _h100_device():
    from planner.contracts import DeviceInfo

    return DeviceInfo(kind="cuda", name="NVIDIA H100 80GB HBM3", memory_bytes=80 * 10**9, memory_source="device")


def test_a_bad_row_is_one_line_naming_the_line_and_the_fix(tmp_path):
    folder = tmp_path / "pricing"
    shutil.copytree(pricing_dir(), folder)
    path = folder / "throughput.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("H200-SXM-141GB", "H900-NOPE", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ThroughputDataError, match=r"throughput.csv line 4: gpu 'H900-NOPE' is not in gpus.csv"):
        load_throughput(folder)

import pytest

from planner.plan import fitted_priors, priors
from planner.contracts import DeviceInfo
from planner.plan.memory import largest_batch, memory_fit_of
from planner.plan.step_time import StepTimeModel, fit_step_time

from .conftest import A100, H100, T4, make_report, point


def test_step_time_fit_recovers_fixed_and_per_sample(report):
    fit = fit_step_time(report.points)
    assert fit is not None
    assert fit.fixed_s == pytest.approx(0.1)
    assert fit.per_sample_s == pytest.approx(0.2)
    assert fit.host_s == 0.0  # every point lies on the line: never launch-bound
    assert fit.points == 3


def test_launch_bound_small_batches_set_the_host_floor():
    # device 10 ms + 4 ms/sample, but the host needs 18 ms per step: B=1 and B=2 wait for it
    points = [point(b, max(0.018, 0.010 + 0.004 * b), 10**9) for b in (1, 2, 4, 8, 16, 32)]
    fit = fit_step_time(points)
    assert fit is not None
    assert (fit.fixed_s, fit.per_sample_s) == (pytest.approx(0.010), pytest.approx(0.004))
    assert fit.host_s == pytest.approx(0.018)
    assert fit.at(1) == pytest.approx(0.018) and fit.at(32) == pytest.approx(0.138)


def test_memory_fit_and_largest_batch(report):
    fit = memory_fit_of(report)
    assert fit is not None
    assert fit.static_bytes == pytest.approx(2e9)
    assert fit.per_sample_bytes == pytest.approx(0.5e9)
    # 80 GB * 0.9 - 1 GB context = 71 GB usable; (71 - 2) / 0.5 = 138
    assert largest_batch(fit, H100.memory_bytes).largest_batch == 138
    # 16 GB * 0.9 - 1 = 13.4 GB; (13.4 - 2) / 0.5 = 22.8 -> 22
    assert largest_batch(fit, T4.memory_bytes).largest_batch == 22
    assert largest_batch(fit, 2e9).largest_batch == 0


def test_compute_bound_prediction_from_a_cpu_probe(report):
    model = StepTimeModel(report, None, "bf16")
    step = model.predict(H100, 1, micro_batch=4, accumulation=1)
    compute = 6e11 * 4 / (989e12 * priors.compute_efficiency(H100, "bf16"))
    optimizer = 1e8 * priors.OPTIMIZER_BYTES_PER_PARAM / (3350e9 * priors.BANDWIDTH_EFFICIENCY)
    assert step.compute_s == pytest.approx(compute)
    assert step.fixed_s == pytest.approx(optimizer)
    assert step.host_s == priors.STEP_OVERHEAD_S  # the report does not count its tensors
    assert step.seconds == pytest.approx(compute + optimizer)  # device-bound: the host keeps up
    assert step.allreduce_s == 0
    assert step.provenance == "prior"


def test_host_bound_prediction_counts_kernels_per_parameter_tensor(report):
    small = report.model_copy(update={"model": report.model.model_copy(update={"param_tensors": 200})})
    model = StepTimeModel(small, None, "bf16")
    host = 200 * priors.host_s_per_param_tensor()
    step = model.predict(H100, 1, micro_batch=1, accumulation=4)
    assert step.host_s == pytest.approx(host)
    compute = 6e11 / (989e12 * priors.compute_efficiency(H100, "bf16"))
    assert compute < host  # launch-bound: each of the 4 micro-batches waits for the host
    assert step.seconds == pytest.approx(3 * host + max(host, compute + step.fixed_s))


def test_bandwidth_bound_case_is_dominated_by_the_optimizer():
    # 1e9 params but a tiny per-sample cost: the optimizer's 32 B/param decide the step.
    report = make_report([point(1, 1.0, 10**9), point(2, 1.1, 2 * 10**9)], params=10**9, flops_per_sample=1e6)
    model = StepTimeModel(report, None, "bf16")
    h100 = model.predict(H100, 1, 1, 1)
    a100 = model.predict(A100, 1, 1, 1)
    assert h100.fixed_s > 100 * h100.compute_s
    # bandwidth ratio, not the FLOP/s ratio, sets the speed-up: 3350 / 1555
    assert a100.fixed_s / h100.fixed_s == pytest.approx(3350 / 1555)
    assert a100.seconds / h100.seconds == pytest.approx(3350 / 1555, rel=1e-3)


def test_no_bf16_on_t4_falls_back_to_fp16_ceiling(report):
    step = StepTimeModel(report, None, "bf16").predict(T4, 1, 1, 1)
    assert step.compute_s == pytest.approx(6e11 / (65e12 * priors.compute_efficiency(T4, "bf16")))
    fp32 = StepTimeModel(report, None, "fp32").predict(T4, 1, 1, 1)
    assert fp32.compute_s == pytest.approx(6e11 / (8.1e12 * priors.FP32_COMPUTE_EFFICIENCY))


def test_allreduce_over_nvlink_and_pcie(report):
    model = StepTimeModel(report, None, "bf16")
    grad_bytes = 1e8 * 4
    nvlink = 2 * 7 / 8 * grad_bytes / 450e9 * (1 - priors.ALLREDUCE_OVERLAP)
    pcie = 2 * 3 / 4 * grad_bytes / 16e9 * (1 - priors.ALLREDUCE_OVERLAP)
    assert model.allreduce_s(H100, 8) == pytest.approx(nvlink)
    assert model.allreduce_s(T4, 4) == pytest.approx(pcie)
    assert model.allreduce_s(H100, 1) == 0
    assert pcie > 20 * nvlink


def test_calibrated_efficiency_from_a_gpu_probe():
    # per-sample time set so the probe reached exactly 50% of the H100 bf16 ceiling
    per_sample = 6e11 / (989e12 * 0.5)
    fixed = 0.01
    points = [point(b, fixed + b * per_sample, 10**9 * b) for b in (8, 16, 32)]
    device = DeviceInfo(kind="cuda", name="NVIDIA H100 80GB HBM3", memory_bytes=80 * 10**9, memory_source="device")
    model = StepTimeModel(make_report(points, device=device), H100, "bf16")
    assert model.calibrated_efficiency == pytest.approx(0.5)
    eff, provenance = model.efficiency(A100)
    assert provenance == "calibrated"
    hopper, ampere = priors.compute_efficiency(H100, "bf16"), priors.compute_efficiency(A100, "bf16")
    assert eff == pytest.approx(min(1.0, 0.5 / hopper * ampere))  # measured/prior ratio carried over
    local = model.predict(H100, 1, 16, 1)
    assert local.provenance == "measured"
    assert local.seconds == pytest.approx(fixed + 16 * per_sample)
    assert model.predict(H100, 1, 64, 1).provenance == "fitted"


def _ddp(backend: str, overlap: float):
    from planner.contracts import DdpMeasurement

    return DdpMeasurement(world_size=2, backend=backend, grad_bytes=4 * 10**8, allreduce_s=0.01,
                          bus_bandwidth_gbs=40.0, points=[], overlap_fraction=overlap)


def test_measured_overlap_from_an_nccl_ddp_probe_replaces_the_prior(report):
    measured = StepTimeModel(report.model_copy(update={"ddp": _ddp("nccl", 0.8)}), None, "bf16")
    assert (measured.overlap, measured.overlap_provenance) == (0.8, "measured")
    grad_bytes = 1e8 * 4
    assert measured.allreduce_s(H100, 8) == pytest.approx(2 * 7 / 8 * grad_bytes / 450e9 * 0.2)
    # gloo on CPUs says nothing about how NCCL overlaps on GPUs: the prior stays
    gloo = StepTimeModel(report.model_copy(update={"ddp": _ddp("gloo", 0.8)}), None, "bf16")
    assert (gloo.overlap, gloo.overlap_provenance) == (priors.ALLREDUCE_OVERLAP, "prior")


def test_convolution_share_lowers_the_prior_efficiency(report):
    matmul = priors.compute_efficiency(H100, "bf16")
    assert priors.compute_efficiency(H100, "bf16", conv_share=1.0) == pytest.approx(matmul * fitted_priors.conv_to_matmul())
    half = priors.compute_efficiency(H100, "bf16", conv_share=0.5)
    assert half == pytest.approx(1 / (0.5 / matmul + 0.5 / (matmul * fitted_priors.conv_to_matmul())))
    cnn = report.model_copy(update={"model": report.model.model_copy(update={"conv_flops_fraction": 1.0})})
    assert StepTimeModel(cnn, None, "bf16").efficiency(H100) == (pytest.approx(matmul * fitted_priors.conv_to_matmul()), "prior")

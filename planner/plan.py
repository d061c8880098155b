"""build_plan: a ProbeReport and a Catalog in, a Plan out. Imports neither torch nor triton."""

from __future__ import annotations

import datetime as dt

from planner import priors
from planner.candidates import CandidateBuilder
from planner.choose import explain_infeasible, pareto_front, recommend
from planner.contracts.plan import Candidate, Exclusion, Plan, ProbeSummary
from planner.contracts.probe import MemoryFit, ProbeReport
from planner.contracts.request import PlanRequest
from planner.efficiency import SampleModel
from planner.errors import BadInput, ProbeFailed
from planner.gpu_match import match_local_gpu
from planner.memory import memory_fit_of
from planner.perf import StepTimeModel
from providers.schema import Catalog, Offer


def select_offers(request: PlanRequest, catalog: Catalog) -> list[Offer]:
    """Offers the request allows; an unknown provider or region is bad input, not an empty plan."""
    offers = catalog.offers
    if request.providers:
        known = sorted({o.provider for o in offers})
        unknown = [p for p in request.providers if p.lower() not in known]
        if unknown:
            raise BadInput(f"unknown provider {', '.join(unknown)}; choose from {', '.join(known)}")
        wanted = {p.lower() for p in request.providers}
        offers = [o for o in offers if o.provider in wanted]
    if request.regions:
        known_regions = sorted({o.region for o in offers})
        unknown = [r for r in request.regions if r not in known_regions]
        if unknown:
            raise BadInput(f"unknown region {', '.join(unknown)}; choose from {', '.join(known_regions)}")
        offers = [o for o in offers if o.region in request.regions or o.region == "any"]
    if not request.spot:
        offers = [o for o in offers if o.market == "on-demand"]
    return offers


def _summary(report: ProbeReport, fit: MemoryFit | None) -> ProbeSummary:
    best = report.best_point()
    return ProbeSummary(
        model_id=report.model.id,
        params=report.model.params,
        device=report.device.name,
        precision=report.settings.precision,
        kernels=report.settings.kernels,
        data=f"{report.model.data.kind}: {report.model.data.source}",
        best_batch=best.batch_size if best else None,
        best_samples_per_s=best.samples_per_s if best else None,
        memory_fit=fit,
        noise_scale=report.noise_scale,
    )


def _memory_fit(report: ProbeReport, warnings: list[str]) -> MemoryFit:
    fit = memory_fit_of(report)
    if fit is not None:
        return fit
    best = report.best_point()
    if best is None or not best.peak_memory_bytes:
        raise ProbeFailed("the probe report has no measured point with memory; rerun `batchfit probe`")
    warnings.append(
        f"one memory point only (batch {best.batch_size}): memory taken as all per-sample, "
        "which under-states the largest batch"
    )
    return MemoryFit(static_bytes=0.0, per_sample_bytes=best.peak_memory_bytes / best.batch_size,
                     points_used=1, max_relative_residual=0.0)


def _assumptions(model: StepTimeModel, samples: SampleModel) -> list[str]:
    out = [
        f"memory: fitted M(B) = M_static + B*m_sample; {priors.MEMORY_MARGIN:.0%} margin and "
        f"{priors.CUDA_CONTEXT_BYTES / 1e9:.1f} GB CUDA context kept free per GPU",
        f"optimizer traffic {priors.OPTIMIZER_BYTES_PER_PARAM} bytes/param at "
        f"{priors.BANDWIDTH_EFFICIENCY:.0%} of the memory bandwidth",
        f"all-reduce: ring, fp32 gradients, {priors.ALLREDUCE_OVERLAP:.0%} hidden behind backward",
        f"spot: +{priors.SPOT_INTERRUPTION_OVERHEAD:.0%} time for interruptions and restarts",
        f"global batches considered: B0/{priors.BATCH_RANGE_BELOW} to B0*"
        f"{priors.BATCH_RANGE_ABOVE if samples.b_noise else priors.BATCH_RANGE_ABOVE_SAMPLES_FIXED} in powers of two",
        f"FLOPs/sample {model.flops_per_sample:.3g} ({model.flops_provenance})",
    ]
    if model.calibrated_efficiency is not None and model.local_gpu is not None:
        out.append(
            f"compute efficiency calibrated on {model.local_gpu.name}: {model.calibrated_efficiency:.0%} of peak"
        )
    else:
        out.append(
            "compute efficiency: per-generation priors (probe ran on a CPU): "
            + ", ".join(f"{g} {e:.0%}" for g, e in priors.COMPUTE_EFFICIENCY_BY_GENERATION.items())
            + f"; fp32 {priors.FP32_COMPUTE_EFFICIENCY:.0%}"
        )
        out.append(f"host overhead {priors.STEP_OVERHEAD_S * 1e3:.1f} ms per micro-batch (prior)")
    out.append(samples.describe().explanation)
    return out


def build_plan(request: PlanRequest, report: ProbeReport, catalog: Catalog,
               now: dt.datetime | None = None) -> Plan:
    warnings = list(catalog.warnings) + list(report.warnings)
    if report.settings.precision != request.precision:
        warnings.append(
            f"the probe ran in {report.settings.precision} but the plan is for {request.precision}: "
            "memory and step time carry over approximately"
        )
    fit = _memory_fit(report, warnings)
    local_gpu = match_local_gpu(report.device, catalog.gpus)
    step_model = StepTimeModel(report, local_gpu, request.precision)
    reference_samples = request.workload.total_samples(report.model.seq_len)
    b_noise = report.noise_scale.b_simple if report.noise_scale else None
    sample_model = SampleModel(request.reference.batch_size, reference_samples, b_noise)
    builder = CandidateBuilder(request, fit, step_model, sample_model, catalog.gpus)

    candidates: list[Candidate] = []
    excluded: list[Exclusion] = []
    for offer in select_offers(request, catalog):
        reason = builder.exclusion(offer)
        if reason is not None:
            excluded.append(reason)
            continue
        candidates.extend(builder.candidates(offer, first_id=len(candidates)))

    front = pareto_front(candidates)
    recommendation, alternatives = recommend(candidates, front, request.budget_usd, request.deadline_hours)
    infeasible = [] if recommendation else explain_infeasible(candidates, request.budget_usd, request.deadline_hours)
    return Plan(
        created_at=now or dt.datetime.now(dt.timezone.utc),
        request=request,
        probe=_summary(report, fit),
        statistical_efficiency=sample_model.describe(),
        candidates=candidates,
        pareto=[c.id for c in front],
        recommendation=recommendation,
        alternatives=alternatives,
        infeasible=infeasible,
        excluded=excluded,
        assumptions=_assumptions(step_model, sample_model),
        warnings=warnings,
        price_tables=catalog.tables,
    )

"""build_plan: a ProbeReport and a Catalog in, a Plan out. Imports neither torch nor triton."""

from __future__ import annotations

import datetime as dt

import numpy as np

from planner.contracts.layout import LAYOUTS
from planner.plan import fitted_priors, priors, trainable
from planner.plan.shapes import ShapeBook, describe_offer
from planner.plan.choose import (
    Columns,
    cheapest,
    explain_infeasible,
    pareto_front,
    recommend,
)
from planner.contracts.plan import DATA_INFLATION_FLAG, Plan, ProbeSummary, ScalingRow, SensitivityRow
from planner.contracts.probe import MemoryFit, NoiseScale, ProbeReport
from planner.contracts.request import PlanRequest
from planner.plan.efficiency import SampleModel
from planner.errors import BadInput, ProbeFailed
from planner.plan.candidates import Evaluation, candidate, evaluate, judged_at_both_ends, widened_by_step_error
from planner.plan.gpu_match import match_local_gpu
from planner.plan.lr import lr_assumptions
from planner.plan.memory import memory_fit_of
from planner.plan.noise_range import NoiseRange, matching_read, noise_range
from planner.plan.step_time import StepTimeModel
from providers.schema import Catalog, Fabric, GpuSpec, Offer


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
    if request.gpus:
        known_gpus = sorted({o.gpu for o in offers})
        unknown = [g for g in request.gpus if g not in known_gpus]
        if unknown:
            raise BadInput(f"--gpus {', '.join(unknown)}: no offer has it; choose from {', '.join(known_gpus)}")
        offers = [o for o in offers if o.gpu in request.gpus]
    if not request.spot:
        offers = [o for o in offers if o.market == "on-demand"]
    return offers


def _noise_scale_warning(noise: NoiseScale) -> str:
    """Where the measured noise scale was read: it grows as the loss falls (McCandlish et al. 2018)."""
    if noise.band == "insufficient":
        return (f"the probe's noise scale ({noise.b_simple:,.1f}) comes from {noise.steps} measured steps, too few "
                "for a band: the plan does not use it and shows how the choice moves with B_noise instead; "
                "probe with --noise-steps 20 or more")
    grows = ("it grows as the loss falls (McCandlish et al. 2018), so if your target loss is lower, "
             "large batches may do better than this plan says")
    if noise.trained_steps and noise.train_loss is not None:
        return (f"the noise scale ({noise.b_simple:,.1f}) was measured after {noise.trained_steps} training steps, "
                f"at training loss {noise.train_loss:.4g}; {grows}")
    return (f"the noise scale ({noise.b_simple:,.1f}) was measured over {noise.steps} steps near the start of "
            f"training; {grows}; probe with --noise-train-steps and --noise-target-loss to read it nearer "
            "your target, or give --noise-scale with a value measured there")


def _summary(report: ProbeReport, fit: MemoryFit | None, noise: NoiseScale | None) -> ProbeSummary:
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
        noise_scale=noise,
    )


def memory_fit_for_plan(report: ProbeReport, warnings: list[str]) -> MemoryFit:
    """The probe's fitted M(B), else one point taken as all per-sample (with a warning)."""
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
        f"all-reduce: ring, fp32 gradients, {model.overlap:.0%} hidden behind backward ({model.overlap_provenance})",
        "clusters: N instances of one offer (N = 1, 2, 4, ... and --max-nodes) where pricing/fabric.csv lists a "
        "fabric for the instance type, priced N x its hourly price; collectives hierarchical, inside a node at the "
        "GPU link and across nodes at the instance's fabric shared by its GPUs (planner/plan/parallel.py)",
        f"spot: +{priors.SPOT_INTERRUPTION_OVERHEAD:.0%} time for interruptions and restarts",
        f"global batches considered: B0/{priors.BATCH_RANGE_BELOW} to B0*"
        f"{priors.BATCH_RANGE_ABOVE if samples.b_noise else priors.BATCH_RANGE_ABOVE_SAMPLES_FIXED} in powers of two",
        f"FLOPs/sample {model.flops_per_sample:.3g} ({model.flops_provenance})",
        _precision_assumption(model),
    ]
    if model.calibrated_efficiency is not None and model.local_gpu is not None:
        out.append(
            f"compute efficiency calibrated on {model.local_gpu.name}: {model.calibrated_efficiency:.0%} of peak"
        )
    else:
        fit = fitted_priors.fitted()
        ran = "the model was traced, not run" if model.report.trace is not None else "probe ran on a CPU"
        tuned = model.harness == "tuned"
        slope = fit.tuned_slope if tuned else fit.eager_slope
        factor = f" x {fit.tuned_factor():.2f} ({fitted_priors.TUNED_HARNESS_SOURCE}'s harness)" if tuned else ""
        out.append(
            f"compute efficiency ({ran}; --harness {model.harness}): bf16/fp16 "
            f"{fit.efficiency_at_reference['matmul']:.0%} of peak for matmuls and "
            f"{fit.efficiency_at_reference['conv']:.0%} for convolutions at {fit.ridge_reference:.0f} FLOP/byte"
            f"{factor}, times (ridge point / {fit.ridge_reference:.0f})^{slope:.2g} on other GPUs; "
            f"fp32 {priors.FP32_COMPUTE_EFFICIENCY:.0%}; {fit.basis(model.harness)}"
        )
    out.append(f"host time {model.host_s * 1e3:.1f} ms per micro-batch ({model.host_provenance}): "
               "a step is never faster than its host work")
    out.append(samples.describe().explanation)
    return out


def _step_error_assumptions(ev: Evaluation) -> list[str]:
    """The step-time error band, when some candidate's step time rests on the cross-GPU prior."""
    errors = set(np.unique(ev.shape_column(lambda s: s.step_error)).tolist()) - {0.0}
    if not errors:
        return []
    return [f"hours and dollars ranges widened by ±{max(errors):.0%} for step times from the cross-GPU prior "
            "(the bench's leave-one-source-out median error), about the same for dollars (billing rounds); "
            "step times measured or fitted on this GPU are not widened; deadline and budget are judged "
            "without the band"]


def _precision_assumption(model: StepTimeModel) -> str:
    if model.precision == "fp32":
        matmul = "TF32 tensor cores (tf32_matmul on)" if model.tf32_matmul else "the FP32 units (torch's default)"
        return (f"fp32: matmuls on {matmul}; convolutions on TF32 tensor cores where the GPU has them "
                "(torch.backends.cudnn.allow_tf32 defaults to True), each at its own ceiling")
    if model.precision == "bf16":
        return "bf16 autocast; GPUs without bf16 (T4, V100) are planned in fp16 with a grad scaler, at the fp16 ceiling"
    return f"{model.precision} autocast" + (" with a grad scaler" if model.precision == "fp16" else "")


def _range_assumptions(span: NoiseRange | None, request: PlanRequest) -> list[str]:
    out = []
    if span is not None:
        out.append(span.explanation)
        if span.low != span.high:
            out.append("each candidate's hours and dollars are a range over that B_noise range (hours and cost at "
                       "its central value); the deadline, budget and data cap are judged at the end worse for the "
                       "candidate, and the recommendation is the best at the central value among the candidates "
                       "feasible at both ends")
    out.append(f"a candidate training on more than {DATA_INFLATION_FLAG:g}x the requested samples is flagged "
               "with its ratio (data_ratio)")
    cap = request.samples_cap()
    if cap is not None:
        out.append(f"data cap: {cap:,.0f} samples exist (--max-samples / --max-epochs x --dataset-size); "
                   "a candidate needing more is infeasible")
    return out


def _listed(ev: Evaluation, front: np.ndarray, chosen: list[int]) -> tuple[np.ndarray, str]:
    """All candidates when there are few; else the frontier, the recommendations and the cheapest
    candidate of each provider x GPU x count x nodes x market x layout."""
    if len(ev) <= priors.MAX_LISTED_CANDIDATES:
        return np.arange(len(ev)), "all candidates"
    keys = {o.key[:1] + (o.gpu, o.gpu_count, o.market) for o in ev.offers}
    key_id = {k: n for n, k in enumerate(sorted(keys))}
    offer_key = np.array([key_id[(o.provider, o.gpu, o.gpu_count, o.market)] for o in ev.offers])
    layout_id = {name: n for n, name in enumerate(LAYOUTS)}
    layout_key = ev.shape_column(lambda s: layout_id[s.layout]).astype(int)
    node_key = np.searchsorted(np.unique(ev.nodes), ev.nodes)
    candidate_key = (offer_key[ev.offer_index] * (node_key.max() + 1) + node_key) * len(LAYOUTS) + layout_key
    order = np.lexsort((ev.hours, ev.cost, candidate_key))
    _, first = np.unique(candidate_key[order], return_index=True)
    listed = np.union1d(np.union1d(order[first], front), np.array(chosen, dtype=int))
    return listed, ("the Pareto frontier, the recommendations and the cheapest candidate of each "
                    f"provider x GPU x count x nodes x market x layout ({len(ev):,} evaluated)")


def _sensitivity(request: PlanRequest, offers: list[Offer], step_model: StepTimeModel, fit: MemoryFit,
                 gpus: dict[str, GpuSpec], reference_samples: float, fabrics: list[Fabric]) -> list[SensitivityRow]:
    """Without a measured noise scale: the cheapest-within-limits choice at each stated B_noise."""
    rows = []
    for b_noise in priors.NOISE_SCALE_SWEEP:
        samples = SampleModel(request.reference.batch_size, reference_samples, b_noise)
        ev = evaluate(offers, ShapeBook(request, fit, step_model, samples, gpus), request, fabrics)
        best = cheapest(ev.meets_deadline & ev.meets_budget & ev.meets_data, ev.hours, ev.cost)
        if best is None:
            rows.append(SensitivityRow(b_noise=b_noise, candidate=None))
            continue
        shape = ev.shape(best)
        nodes = int(ev.nodes[best])
        rows.append(SensitivityRow(b_noise=b_noise, candidate=describe_offer(ev.offer(best))
                                   + (f" x {nodes} nodes" if nodes > 1 else ""),
                                   global_batch=shape.global_batch, lr=shape.lr.lr, steps=shape.steps,
                                   hours=float(ev.hours[best]), cost_usd=float(ev.cost[best])))
    return rows


def _scaling(ev: Evaluation, pick: int) -> list[ScalingRow]:
    """The picked candidate's GPU at every (GPU count, node count) on offer, at the picked global batch:
    the cheapest candidate of each, its speed-up over the fewest GPUs and whether the GPUs added pay."""
    gpu_name, batch = ev.offer(pick).gpu, ev.shape(pick).global_batch
    same_gpu = np.array([o.gpu == gpu_name for o in ev.offers])[ev.offer_index]
    found = np.flatnonzero(same_gpu & (ev.shape_column(lambda s: s.global_batch) == batch))
    counts = np.array([o.gpu_count for o in ev.offers])[ev.offer_index[found]]
    cheapest_of: dict[tuple[int, int], int] = {}  # (GPUs per node, nodes) -> its cheapest candidate
    for i in found[np.lexsort((ev.cost[found], ev.nodes[found], counts))]:
        cheapest_of.setdefault((ev.offer(int(i)).gpu_count, int(ev.nodes[i])), int(i))
    if len(cheapest_of) < 2:
        return []
    keys = sorted(cheapest_of, key=lambda k: (k[0] * k[1], k[1]))
    fewest = keys[0][0] * keys[0][1]
    base = ev.shape(cheapest_of[keys[0]]).step_time_s
    rows = []
    for count, nodes in keys:
        i = cheapest_of[(count, nodes)]
        shape = ev.shape(i)
        speedup = base / shape.step_time_s
        efficiency = speedup * fewest / (count * nodes)
        rows.append(ScalingRow(gpu=gpu_name, gpu_count=count, nodes=nodes, total_gpus=count * nodes,
                               global_batch=batch, step_time_s=shape.step_time_s, speedup=speedup,
                               efficiency=efficiency, allreduce_share=shape.comm_exposed_s / shape.step_time_s,
                               cheapest_offer=describe_offer(ev.offer(i)), cost_usd=float(ev.cost[i]),
                               pays=efficiency >= priors.SCALING_EFFICIENCY_PAYS))
    return rows


def _binding_exclusion(offers: list[Offer], ev: Evaluation, gpus: dict[str, GpuSpec]) -> list[str]:
    """With every offer excluded: why the instance with the most GPU memory was, the limit that binds."""
    reasons = {e.offer: e.reason for e in ev.excluded}
    largest = max(offers, key=lambda o: (o.gpu_count * gpus[o.gpu].memory_bytes, -o.price_per_hour), default=None)
    if largest is None or describe_offer(largest) not in reasons:
        return []
    return [f"even the largest instance, {describe_offer(largest)}: {reasons[describe_offer(largest)]}"]


def build_plan(request: PlanRequest, report: ProbeReport, catalog: Catalog,
               now: dt.datetime | None = None) -> Plan:
    warnings = list(catalog.warnings) + list(report.warnings)
    if report.settings.precision != request.precision:
        warnings.append(
            f"the probe ran in {report.settings.precision} but the plan is for {request.precision}: "
            "memory and step time carry over approximately"
        )
    fit = memory_fit_for_plan(report, warnings)
    local_gpu = match_local_gpu(report.device, catalog.gpus)
    trained = trainable.resolve(request.trainable, report, request.precision)
    step_model = StepTimeModel(report, local_gpu, request.precision, request.tf32_matmul, trained, request.harness)
    reference_samples = request.workload.total_samples(report.model.seq_len)
    noise = report.noise_scale or (report.ddp.noise_scale if report.ddp else None)
    measured = noise if noise is not None and noise.band == "measured" else None  # "insufficient": no band
    span = (noise_range(matching_read(measured, request.reference.optimizer), request.target_loss)
            if request.noise_scale is None and measured else None)
    b_noise = request.noise_scale or (span.central if span else None)
    if request.noise_scale is None and noise is not None:
        warnings.append(_noise_scale_warning(noise))
    warnings += list(span.warnings if span else ())
    sample_model = SampleModel(request.reference.batch_size, reference_samples, b_noise)
    offers = select_offers(request, catalog)

    def evaluate_at(model: SampleModel) -> Evaluation:
        return evaluate(offers, ShapeBook(request, fit, step_model, model, catalog.gpus), request, catalog.fabrics)

    ev = evaluate_at(sample_model)
    if span is not None and span.low != span.high:
        ends = [evaluate_at(SampleModel(request.reference.batch_size, reference_samples, b)) for b in (span.low, span.high)]
        ev = judged_at_both_ends(ev, ends[0], ends[1], request)
    ev = widened_by_step_error(ev)

    cols = Columns(ev.hours, ev.cost, ev.meets_deadline, ev.meets_budget, ev.meets_data)
    front = pareto_front(ev.hours, ev.cost)
    recommendation, alternatives = recommend(cols, front, request.budget_usd, request.deadline_hours)
    chosen = [r.candidate_id for r in ([recommendation] if recommendation else []) + alternatives]
    listed, listing = _listed(ev, front, chosen)
    infeasible = [] if recommendation else explain_infeasible(
        cols, request.budget_usd, request.deadline_hours, lambda i: candidate(ev, i).label())
    if not len(ev) and ev.excluded:
        infeasible += _binding_exclusion(offers, ev, catalog.gpus)
    trained_summary = trainable.summary(trained, report, request.precision)
    pick = recommendation.candidate_id if recommendation else (int(front[0]) if len(front) else None)
    for cid in chosen:
        warnings += [w for w in ev.shape(cid).lr.warnings if w not in warnings]
    return Plan(
        created_at=now or dt.datetime.now(dt.timezone.utc),
        request=request,
        probe=_summary(report, fit, noise),
        trainable=trained_summary,
        statistical_efficiency=sample_model.describe((span.low, span.high) if span else None),
        candidates_evaluated=len(ev),
        listing=listing,
        candidates=[candidate(ev, int(i), report.model.seq_len) for i in listed],
        pareto=[int(i) for i in front],
        recommendation=recommendation,
        alternatives=alternatives,
        infeasible=infeasible,
        excluded=ev.excluded,
        noise_sensitivity=[] if b_noise else _sensitivity(request, offers, step_model, fit, catalog.gpus,
                                                          reference_samples, catalog.fabrics),
        scaling=[] if pick is None else _scaling(ev, pick),
        assumptions=_assumptions(step_model, sample_model)
        + ([trained_summary.explanation, *trainable.assumptions(trained)] if trained else [])
        + _range_assumptions(span, request)
        + _step_error_assumptions(ev) + lr_assumptions(request.reference),
        warnings=warnings,
        price_tables=catalog.tables,
    )

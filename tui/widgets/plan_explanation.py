"""Why the plan recommends what it does, and how each figure of a candidate was obtained.

Everything shown is read from the Plan (and, for a price's source and date, the Catalog);
nothing is recomputed here.
"""

from __future__ import annotations

import datetime as dt

from textual.content import Content
from textual.widgets import Static

from planner.contracts.plan import Candidate, LrChoice, Plan, Recommendation
from providers.schema import Catalog, Offer
from tui.candidate_rows import hours_text, money
from tui.price_age import age_text

POLICY_TITLES = {
    "cheapest-within-deadline": "Cheapest within the deadline",
    "fastest-within-budget": "Fastest within the budget",
    "knee": "Knee of the frontier",
}

def _heading(text: str) -> Content:
    return Content.assemble((text, "bold $text-accent"))


def _item(label: str, value: str, note: str = "") -> Content:
    parts: list[str | tuple[str, str]] = [(f"  {label}: ", "$text-muted"), value]
    if note:
        parts.append((f"  [{note}]", "italic $text-muted"))
    return Content.assemble(*parts)


def _offer_for(c: Candidate, catalog: Catalog | None) -> Offer | None:
    if catalog is None:
        return None
    key = (c.provider, c.instance, c.region, c.market)
    return next((o for o in catalog.offers if o.key == key), None)


def _optimizer_text(lr: LrChoice) -> str:
    bits = [f"ratio ×{lr.ratio:.3g}"]
    if lr.betas:
        bits.append(f"betas ({lr.betas[0]:.3g}, {lr.betas[1]:.4g})")
    if lr.eps is not None:
        bits.append(f"eps {lr.eps:.2g}")
    if lr.momentum is not None:
        bits.append(f"momentum {lr.momentum:.3g}")
    if lr.weight_decay is not None:
        bits.append(f"weight decay {lr.weight_decay:.3g}")
    if lr.warmup_steps is not None:
        bits.append(f"warmup {lr.warmup_steps:,} steps")
    return ", ".join(bits)


def _price_source(c: Candidate, catalog: Catalog | None, today: dt.date) -> str:
    offer = _offer_for(c, catalog)
    if offer is None:
        return "price table"
    return f"{offer.source}, as of {offer.as_of} ({age_text((today - offer.as_of).days)} old)"


def candidate_lines(plan: Plan, c: Candidate, catalog: Catalog | None, today: dt.date) -> list[Content]:
    """Each figure of one candidate with where it came from."""
    fit = plan.probe.memory_fit
    memory = (f"memory {c.memory_per_gpu_bytes / 1e9:.1f} of {c.memory_limit_bytes / 1e9:.1f} GB per GPU, "
              + (f"{fit.provenance} M(B) from {fit.points_used} probe points" if fit else "memory fit"))
    batch = f"{c.global_batch} = {c.per_gpu_batch}/GPU × {c.gpu_count} GPU × {c.accumulation} accumulation"
    lines = [
        Content.assemble((f"{c.provider} {c.instance} {c.market} ({c.region})", "bold")),
        _item("GPUs", f"{c.gpu_count} × {c.gpu}"),
        _item("batch", batch, memory),
        _item("learning rate", f"{c.lr.lr:.3g}", c.lr.rule),
        _item("optimizer", _optimizer_text(c.lr)),
        _item("step time", f"{c.step_time_s * 1e3:,.1f} ms, {c.samples_per_s:,.1f} samples/s",
              c.step_time_provenance),
        _item("steps", f"{c.steps:,} for {c.samples:,.0f} samples", plan.statistical_efficiency.mode),
        _item("time", f"{hours_text(c.hours)} h", "steps × step time"),
        _item("cost", f"{money(c.cost_usd)} at ${c.price_per_hour:,.2f}/h", _price_source(c, catalog, today)),
        _item("limits", ("meets the deadline" if c.meets_deadline else "misses the deadline") + ", "
              + ("within the budget" if c.meets_budget else "over the budget")),
    ]
    return lines + [_item("note", note) for note in c.notes + c.lr.notes]


def _recommendation_lines(plan: Plan, rec: Recommendation, catalog: Catalog | None, today: dt.date) -> list[Content]:
    lines = [
        _heading(POLICY_TITLES.get(rec.policy, rec.policy)),
        _item("why", rec.reason),
        _item("bound by", rec.bound_by),
    ]
    return lines + candidate_lines(plan, plan.candidate(rec.candidate_id), catalog, today)


def _scaling_lines(plan: Plan) -> list[Content]:
    """Where adding GPUs of the recommended type stops paying, at its global batch."""
    if not plan.scaling:
        return []
    first = plan.scaling[0]
    lines = [_heading(f"Adding GPUs: {first.gpu} at global batch {first.global_batch}")]
    for r in plan.scaling:
        lines.append(_item(
            f"{r.gpu_count} GPU", f"{r.step_time_s * 1e3:,.1f} ms/step, speed-up ×{r.speedup:.2f}, "
            f"efficiency {r.efficiency:.0%}, all-reduce {r.allreduce_share:.0%} of the step, "
            f"{money(r.cost_usd)} on {r.cheapest_offer}", "pays" if r.pays else "stops paying"))
    return [*lines, Content("")]


def _sensitivity_lines(plan: Plan) -> list[Content]:
    """With no measured noise scale: the cheapest choice within the limits for a range of them."""
    if not plan.noise_sensitivity:
        return []
    lines = [_heading("If the noise scale were ... (it was not measured)")]
    for r in plan.noise_sensitivity:
        choice = "nothing meets the limits"
        if r.candidate is not None and r.hours is not None and r.cost_usd is not None and r.lr is not None:
            choice = (f"{r.candidate}, batch {r.global_batch}, lr {r.lr:.3g}, {hours_text(r.hours)} h, "
                      f"{money(r.cost_usd)}")
        lines.append(_item(f"B_noise {r.b_noise:,.0f}", choice))
    return [*lines, Content("")]


def explanation(plan: Plan, chosen_id: int | None, catalog: Catalog | None, today: dt.date) -> Content:
    """The chosen candidate first (when the user picked one), then the recommendation and its alternatives,
    then what the plan assumed and warned about."""
    lines: list[Content] = []
    if chosen_id is not None and (plan.recommendation is None or chosen_id != plan.recommendation.candidate_id):
        lines += [_heading("Selected candidate"), *candidate_lines(plan, plan.candidate(chosen_id), catalog, today),
                  Content("")]
    if plan.recommendation is None:
        lines.append(_heading("Nothing meets the limits"))
        lines += [_item("reason", reason) for reason in plan.infeasible]
        lines.append(Content(""))
    else:
        shown: set[int] = set()
        for rec in [plan.recommendation, *plan.alternatives]:
            if rec.candidate_id in shown:  # the same candidate under another policy: say so, once
                lines += [_heading(POLICY_TITLES.get(rec.policy, rec.policy)), _item("why", rec.reason),
                          _item("candidate", "the same as above"), Content("")]
                continue
            shown.add(rec.candidate_id)
            lines += [*_recommendation_lines(plan, rec, catalog, today), Content("")]
    lines += _scaling_lines(plan) + _sensitivity_lines(plan)
    lines.append(_heading("Statistical efficiency"))
    lines += [Content("  " + plan.statistical_efficiency.explanation), Content("")]
    lines.append(_heading("Candidates"))
    lines += [Content(f"  {plan.candidates_evaluated:,} evaluated; listed: {plan.listing}"), Content("")]
    lines.append(_heading("Assumptions"))
    lines += [Content(f"  - {a}") for a in plan.assumptions]
    if plan.warnings:
        lines += [Content(""), _heading("Warnings")]
        lines += [Content.assemble(("  ! ", "$text-warning"), w) for w in plan.warnings]
    return Content("\n").join(lines)


class PlanExplanation(Static):
    """Scrollable text: wrap it in a VerticalScroll."""

    def show(self, plan: Plan | None, chosen_id: int | None, catalog: Catalog | None, today: dt.date) -> None:
        if plan is None:
            self.update("")
            return
        self.update(explanation(plan, chosen_id, catalog, today))

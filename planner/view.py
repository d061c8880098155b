"""A Plan as a terminal table or as markdown, for people; JSON is the Plan model itself."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from planner.contracts.plan import Candidate, Plan, Recommendation

FRONTIER_ROWS = 12


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def _lr(c: Candidate) -> str:
    text = f"{c.lr.lr:.3g}"
    if c.lr.betas:
        text += f" β {c.lr.betas[0]:.3g}/{c.lr.betas[1]:.4g}"
    return text


def _headline(plan: Plan) -> str:
    p = plan.probe
    best = f"{p.best_samples_per_s:,.1f} samples/s at batch {p.best_batch}" if p.best_samples_per_s else "no point"
    return (f"{p.model_id} ({p.params / 1e6:,.1f} M params) probed on {p.device} "
            f"[{p.precision}, {p.kernels} kernels, {p.data}]: {best}")


def _recommendation_lines(plan: Plan, rec: Recommendation) -> list[str]:
    c = plan.candidate(rec.candidate_id)
    lines = [
        f"{rec.policy}: {c.provider} {c.instance} {c.market} ({c.region})",
        f"  {c.gpu_count} x {c.gpu}, global batch {c.global_batch} = {c.per_gpu_batch}/GPU"
        f" x {c.gpu_count} GPU x {c.accumulation} accumulation",
        f"  learning rate {_lr(c)}  [{c.lr.rule}]",
        f"  {c.hours:,.2f} h, ${c.cost_usd:,.2f} at ${c.price_per_hour:,.2f}/h;"
        f" {c.steps:,} steps of {c.step_time_s * 1e3:,.1f} ms ({c.step_time_provenance})",
        f"  why: {rec.reason}",
    ]
    lines += [f"  note: {n}" for n in c.notes + c.lr.notes]
    return lines


def _frontier_table(plan: Plan) -> Table:
    table = Table(title="Pareto frontier (hours vs dollars)", title_justify="left")
    for name in ("provider", "instance", "market", "GPUs", "batch", "per GPU x acc", "lr", "hours", "USD", "limits"):
        table.add_column(name, justify="right" if name in {"GPUs", "batch", "hours", "USD"} else "left")
    for cid in plan.pareto[:FRONTIER_ROWS]:
        c = plan.candidate(cid)
        limits = ("ok" if c.meets_deadline and c.meets_budget
                  else ", ".join(x for x, ok in (("late", c.meets_deadline), ("over budget", c.meets_budget)) if not ok))
        table.add_row(c.provider, c.instance, c.market, f"{c.gpu_count}x {c.gpu}", str(c.global_batch),
                      f"{c.per_gpu_batch} x {c.accumulation}", f"{c.lr.lr:.3g}", f"{c.hours:,.2f}", f"{c.cost_usd:,.2f}",
                      limits)
    return table


def _sensitivity_lines(plan: Plan) -> list[str]:
    if not plan.noise_sensitivity:
        return []
    lines = ["if the noise scale were ... (no measurement: the cheapest choice within the limits)"]
    for r in plan.noise_sensitivity:
        choice = (f"{r.candidate}, batch {r.global_batch}, lr {r.lr:.3g}, {r.hours:,.2f} h, ${r.cost_usd:,.2f}"
                  if r.candidate else "nothing meets the limits")
        lines.append(f"  B_noise {r.b_noise:>8,.0f}: {choice}")
    return lines


def _scaling_lines(plan: Plan) -> list[str]:
    if not plan.scaling:
        return []
    first = plan.scaling[0]
    lines = [f"scaling {first.gpu} at global batch {first.global_batch}:"]
    for r in plan.scaling:
        verdict = "pays" if r.pays else "stops paying"
        lines.append(f"  {r.gpu_count} GPU: {r.step_time_s * 1e3:,.1f} ms/step, speed-up {r.speedup:.2f}x, "
                     f"efficiency {r.efficiency:.0%}, all-reduce {r.allreduce_share:.0%} of the step, "
                     f"${r.cost_usd:,.2f} on {r.cheapest_offer}: {verdict}")
    return lines


def render_table(plan: Plan, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None, markup=False,
                      highlight=False)
    console.print(_headline(plan))
    console.print(f"statistical efficiency: {plan.statistical_efficiency.explanation}")
    if plan.recommendation:
        console.print()
        for rec in [plan.recommendation, *plan.alternatives]:
            for line in _recommendation_lines(plan, rec):
                console.print(line)
    else:
        console.print("\nnothing meets the limits:")
        for reason in plan.infeasible:
            console.print(f"  - {reason}")
    console.print()
    console.print(_frontier_table(plan))
    for line in _scaling_lines(plan) + _sensitivity_lines(plan):
        console.print(line)
    console.print(f"{plan.candidates_evaluated:,} candidates, {len(plan.excluded)} offers excluded; prices as of "
                  + ", ".join(f"{t.name} {t.as_of}" for t in plan.price_tables))
    for warning in plan.warnings:
        console.print(f"warning: {warning}")
    return buffer.getvalue()


def render_markdown(plan: Plan) -> str:
    out = [f"# batchfit plan: {plan.probe.model_id}", "", _headline(plan), ""]
    if plan.recommendation:
        out.append("## Recommendation")
        for rec in [plan.recommendation, *plan.alternatives]:
            out.append("")
            out += [f"    {line}" if line.startswith("  ") else f"- **{line}**" for line in _recommendation_lines(plan, rec)]
    else:
        out.append("## Nothing meets the limits")
        out += [f"- {reason}" for reason in plan.infeasible]
    out += ["", "## Pareto frontier", "",
            "| provider | instance | market | GPUs | global batch | per GPU x acc | lr | hours | USD |",
            "|---|---|---|---|---:|---|---|---:|---:|"]
    for cid in plan.pareto:
        c = plan.candidate(cid)
        out.append(f"| {c.provider} | {c.instance} | {c.market} | {c.gpu_count}x {c.gpu} | {c.global_batch} | "
                   f"{c.per_gpu_batch} x {c.accumulation} | {_lr(c)} | {c.hours:,.2f} | {c.cost_usd:,.2f} |")
    out += ["", "## Statistical efficiency", "", plan.statistical_efficiency.explanation, ""]
    out += [f"    {line}" for line in _sensitivity_lines(plan)]
    if plan.scaling:
        out += ["", "## Adding GPUs", ""] + [f"    {line}" for line in _scaling_lines(plan)]
    out += ["", "## Assumptions", ""]
    out += [f"- {a}" for a in plan.assumptions]
    if plan.warnings:
        out += ["", "## Warnings", ""] + [f"- {w}" for w in plan.warnings]
    out += ["", "Prices as of: " + ", ".join(f"{t.name} {t.as_of}" for t in plan.price_tables), ""]
    return "\n".join(out)

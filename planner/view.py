"""The plan as UI-neutral sections of labelled rows, built once and rendered by every front end.

The CLI's table and the markdown export (both below) and the TUI's Why panel show the same
sections: add a figure to a Candidate, add its Row here, and every view shows it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from planner.contracts.plan import DATA_INFLATION_FLAG, Candidate, LrChoice, Plan, Recommendation
from planner.contracts.probe import MemoryFit
from planner.contracts.request import PlanRequest

FRONTIER_ROWS = 12
PriceNote = Callable[[Candidate], str]
"""Where a candidate's price came from, in a few words (the TUI adds the table's age from the catalog)."""


@dataclass(frozen=True)
class Row:
    """One figure: what it is, its value, and where it came from (a rule, a provenance, a source)."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Section:
    """A titled block. `kind` is stable for front ends to style by; `lead` is prose before the rows."""

    kind: str
    title: str
    rows: tuple[Row, ...] = ()
    lead: str = ""
    bullets: tuple[str, ...] = field(default=())


def hours_text(value: float) -> str:
    """At most 5 characters: 1,234, 12.3, 1.23, 0.012, <.001."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}" if value >= 0.001 else "<.001"


def money(value: float) -> str:
    """At most 7 characters: $12.3k, $1,234, $23.20, <$0.01."""
    if value >= 10_000:
        return f"${value / 1000:,.1f}k"
    if value >= 100:
        return f"${value:,.0f}"
    return f"${value:.2f}" if value >= 0.01 else "<$0.01"


def policy_title(policy: str, request: PlanRequest) -> str:
    """The policy's name as the request makes it true: no deadline set, no 'within the deadline'."""
    if policy == "cheapest-within-deadline":
        return "Cheapest within the deadline" if request.deadline_hours is not None else "Cheapest"
    if policy == "fastest-within-budget":
        return "Fastest within the budget" if request.budget_usd is not None else "Fastest"
    return "Knee of the frontier" if policy == "knee" else policy


def candidate_label(c: Candidate) -> str:
    return f"{c.provider} {c.instance} {c.market} ({c.region})"


def table_price_note(plan: Plan) -> PriceNote:
    """The price tables' names and dates: what a view without the catalog can say of a price."""
    tables = ", ".join(f"{t.name} as of {t.as_of}" for t in plan.price_tables) or "price table"
    return lambda _c: tables


def optimizer_rows(lr: LrChoice) -> list[Row]:
    """Each retuned number beside the lr, with the rule that made it."""
    items = [("betas", None if lr.betas is None else f"({lr.betas[0]:.3g}, {lr.betas[1]:.4g})", lr.betas_rule),
             ("eps", None if lr.eps is None else f"{lr.eps:.2g}", lr.eps_rule),
             ("momentum", None if lr.momentum is None else f"{lr.momentum:g}", lr.momentum_rule),
             ("weight decay", None if lr.weight_decay is None else f"{lr.weight_decay:.3g}", lr.weight_decay_rule),
             ("warmup", None if lr.warmup_steps is None else f"{lr.warmup_steps:,} steps", lr.warmup_rule)]
    return [Row(name, value, rule or "") for name, value, rule in items if value is not None]


def candidate_rows(plan: Plan, c: Candidate, price_note: PriceNote | None = None) -> list[Row]:
    """Each figure of one candidate with where it came from."""
    fit = plan.probe.memory_fit
    memory = (f"memory {c.memory_per_gpu_bytes / 1e9:.1f} of {c.memory_limit_bytes / 1e9:.1f} GB per GPU, "
              + _memory_source(fit))
    note = price_note or table_price_note(plan)
    rows = [
        Row("GPUs", gpus_text(c), c.fabric or ""),
        Row("precision", c.precision or plan.request.precision,
            "the request's" if c.precision in (None, plan.request.precision) else "the GPU lacks the request's"),
        Row("layout", layout_text(c), "planner/plan/parallel.py"),
        *trained_rows(plan),
        Row("batch", f"{c.global_batch} = {c.per_gpu_batch}/GPU × {c.gpus} GPU × {c.accumulation} accumulation",
            memory),
        Row("learning rate", f"{c.lr.lr:.3g}", c.lr.rule),
        *optimizer_rows(c.lr),
        Row("step time", f"{c.step_time_s * 1e3:,.1f} ms, {c.samples_per_s:,.1f} samples/s"
            + (f", {c.tokens_per_s_per_gpu:,.0f} tokens/s per GPU" if c.tokens_per_s_per_gpu else ""),
            c.step_time_provenance),
        Row("steps", f"{c.steps:,} for {c.samples:,.0f} samples", plan.statistical_efficiency.mode),
        Row("time", f"{hours_text(c.hours)} h" + _range(c.hours_range, hours_text), "steps × step time"
            + (_range_basis(plan) if c.hours_range else "")),
        Row("cost", f"{money(c.cost_usd)}" + _range(c.cost_range, money) + f" at ${c.price_per_hour:,.2f}/h", note(c)),
        Row("limits", ("meets the deadline" if c.meets_deadline else "misses the deadline") + ", "
            + ("within the budget" if c.meets_budget else "over the budget")
            + ("" if c.meets_data else ", more samples than exist") + _data_flag(c, ", ")),
    ]
    fewer = fewer_nodes(plan, c)
    if fewer:
        rows.insert(1, Row("fewer nodes", fewer, "plan.excluded"))
    if c.memory is not None:
        m = c.memory
        after_batch = next(i for i, r in enumerate(rows) if r.label == "batch") + 1
        rows.insert(after_batch, Row("memory per GPU", f"weights {_gb(m.params)}, gradients {_gb(m.grads)}, optimizer "
                           f"{_gb(m.optimizer)}, buffers {_gb(m.buffers)}, activations {_gb(m.activations)}", "traced"))
    return rows + [Row("note", n) for n in c.notes + c.lr.notes]


def trained_rows(plan: Plan) -> list[Row]:
    """What a LoRA, QLoRA or partial fine-tune trains (none for a full one: every parameter)."""
    t = plan.trainable
    if t is None or t.spec == "full":
        return []
    total = t.trained_params + t.frozen_params
    return [Row("trains", f"{t.spec}: {t.trained_params:,} of {total:,} parameters ({t.trained_params / total:.2%}); "
                f"frozen weights {_gb(t.frozen_bytes)}", "planner/plan/trainable.py")]


def _memory_source(fit: MemoryFit | None) -> str:
    if fit is None:
        return "memory fit"
    if fit.provenance == "traced":
        return "traced activations + the layout's weights, gradients, optimizer state and buffers"
    return f"{fit.provenance} M(B) from {fit.points_used} probe points"


LAYOUT_NAMES = {"ddp": "DDP", "zero1": "ZeRO-1", "zero2": "ZeRO-2", "fsdp": "FSDP", "hsdp": "HSDP"}


def gpus_text(c: Candidate) -> str:
    """'8 × H100-SXM-80GB', or '4 nodes × 8 × H100-SXM-80GB = 32 GPUs' for a cluster."""
    if c.nodes == 1:
        return f"{c.gpu_count} × {c.gpu}"
    return f"{c.nodes} nodes × {c.gpu_count} × {c.gpu} = {c.gpus} GPUs"


def fewer_nodes(plan: Plan, c: Candidate) -> str | None:
    """Why fewer instances of the candidate's offer do not fit (the plan's exclusion of them)."""
    offer = f"{c.provider} {c.instance} {c.market} ({c.region})"
    return next((e.reason for e in plan.excluded if e.offer == offer and e.nodes), None)


def layout_short(c: Candidate) -> str:
    """'FSDP/full': the layout and the activation checkpointing, for a table cell."""
    return f"{LAYOUT_NAMES.get(c.layout, c.layout)}/{c.checkpointing}"


def layout_text(c: Candidate) -> str:
    text = f"{LAYOUT_NAMES.get(c.layout, c.layout)}, {c.checkpointing} activation checkpointing"
    if c.comm_bytes_per_step:
        across = (f" ({c.comm_inter_node_bytes / 1e9:,.1f} GB of it across nodes)"
                  if c.comm_inter_node_bytes else "")
        text += (f"; {c.comm_bytes_per_step / 1e9:,.1f} GB sent per GPU per step{across}, "
                 f"{c.comm_exposed_s * 1e3:,.0f} ms of it not hidden")
    return text


def _range_basis(plan: Plan) -> str:
    """What a candidate's hours range spans: the B_noise range, a prior step time's error band, or both."""
    if plan.statistical_efficiency.b_noise_range is None:
        return ", range: the step-time error band (see assumptions)"
    return ", range over the B_noise range (and any step-time error band)"


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def candidate_section(plan: Plan, c: Candidate, title: str, price_note: PriceNote | None = None) -> Section:
    return Section("candidate", title, tuple(candidate_rows(plan, c, price_note)), lead=candidate_label(c))


def recommendation_sections(plan: Plan, price_note: PriceNote | None = None) -> list[Section]:
    """The recommendation and each alternative; a candidate already shown is named, not repeated."""
    if plan.recommendation is None:
        return [Section("infeasible", "Nothing meets the limits", bullets=tuple(plan.infeasible))]
    out: list[Section] = []
    shown: dict[int, str] = {}
    for index, rec in enumerate([plan.recommendation, *plan.alternatives]):
        out.append(_recommendation_section(plan, rec, "recommendation" if index == 0 else "alternative",
                                           shown, price_note))
    return out


def _recommendation_section(plan: Plan, rec: Recommendation, kind: str, shown: dict[int, str],
                            price_note: PriceNote | None) -> Section:
    title = policy_title(rec.policy, plan.request)
    head = [Row("why", rec.reason), Row("bound by", rec.bound_by)]
    if rec.candidate_id in shown:
        return Section(kind, title, (*head, Row("candidate", f"the same as “{shown[rec.candidate_id]}”")))
    shown[rec.candidate_id] = title
    c = plan.candidate(rec.candidate_id)
    return Section(kind, title, (*head, *candidate_rows(plan, c, price_note)), lead=candidate_label(c))


def scaling_section(plan: Plan) -> Section | None:
    """Where adding GPUs of the recommended type stops paying, at its global batch."""
    if not plan.scaling:
        return None
    first = plan.scaling[0]
    rows = tuple(
        Row(f"{r.gpu_count} GPU" if r.nodes == 1 else f"{r.nodes} nodes × {r.gpu_count} GPU",
            f"{r.step_time_s * 1e3:,.1f} ms/step, speed-up ×{r.speedup:.2f}, "
            f"efficiency {r.efficiency:.0%}, all-reduce {r.allreduce_share:.0%} of the step, "
            f"{money(r.cost_usd)} on {r.cheapest_offer}", "pays" if r.pays else "stops paying")
        for r in plan.scaling)
    rows = _unfit_nodes(plan) + rows
    what = "GPUs and nodes" if any(r.nodes > 1 for r in plan.scaling) else "GPUs"
    return Section("scaling", f"Adding {what}: {first.gpu} at global batch {first.global_batch}", rows)


def _unfit_nodes(plan: Plan) -> tuple[Row, ...]:
    """The recommendation's offer on fewer nodes, where batch 1 does not fit (a scaling row of its own)."""
    if plan.recommendation is None:
        return ()
    c = plan.candidate(plan.recommendation.candidate_id)
    offer = f"{c.provider} {c.instance} {c.market} ({c.region})"
    nodes = next((e.nodes for e in plan.excluded if e.offer == offer and e.nodes), None)
    if not nodes:
        return ()
    counts = ", ".join(str(n) for n in nodes)
    return (Row(f"{counts} nodes × {c.gpu_count} GPU", f"batch 1 does not fit in the memory of {c.instance}; "
                "the recommendation's 'fewer nodes' row says by how much", "does not fit"),)


def sensitivity_section(plan: Plan) -> Section | None:
    """With no measured noise scale: the cheapest choice within the limits for a range of them."""
    if not plan.noise_sensitivity:
        return None
    rows = []
    for r in plan.noise_sensitivity:
        choice = "nothing meets the limits"
        if r.candidate is not None and r.hours is not None and r.cost_usd is not None and r.lr is not None:
            choice = (f"{r.candidate}, batch {r.global_batch}, lr {r.lr:.3g}, {hours_text(r.hours)} h, "
                      f"{money(r.cost_usd)}")
        rows.append(Row(f"B_noise {r.b_noise:,.0f}", choice))
    return Section("sensitivity", "If the noise scale were ... (it was not measured)", tuple(rows))


def probe_summary_line(plan: Plan) -> str:
    p = plan.probe
    if p.memory_fit is not None and p.memory_fit.provenance == "traced":
        return (f"{p.model_id} ({p.params / 1e9:,.2f} B params) traced, not run [{p.precision}, {p.data}]: "
                "FLOPs and activations from fake tensors, step times from stated priors")
    best = f"{p.best_samples_per_s:,.1f} samples/s at batch {p.best_batch}" if p.best_samples_per_s else "no point"
    return (f"{p.model_id} ({p.params / 1e6:,.1f} M params) probed on {p.device} "
            f"[{p.precision}, {p.kernels} kernels, {p.data}]: {best}")


def plan_sections(plan: Plan, price_note: PriceNote | None = None, chosen_id: int | None = None) -> list[Section]:
    """Every section of the plan, in reading order: a chosen candidate (when not the recommended one),
    the recommendation and its alternatives, scaling, sensitivity, efficiency, assumptions, warnings."""
    out: list[Section] = []
    if chosen_id is not None and (plan.recommendation is None or chosen_id != plan.recommendation.candidate_id):
        out.append(candidate_section(plan, plan.candidate(chosen_id), "Selected candidate", price_note))
    out += recommendation_sections(plan, price_note)
    out += [s for s in (scaling_section(plan), sensitivity_section(plan)) if s is not None]
    out.append(Section("efficiency", "Statistical efficiency", lead=plan.statistical_efficiency.explanation))
    out.append(Section("candidates", "Candidates",
                       lead=f"{plan.candidates_evaluated:,} evaluated, {_excluded_text(plan)}; "
                            f"listed: {plan.listing}"))
    out.append(Section("assumptions", "Assumptions", bullets=tuple(plan.assumptions)))
    if plan.warnings:
        out.append(Section("warnings", "Warnings", bullets=tuple(plan.warnings)))
    return out


def _excluded_text(plan: Plan) -> str:
    whole = sum(not e.nodes for e in plan.excluded)
    partial = len(plan.excluded) - whole
    return f"{whole} offers excluded" + (f", {partial} on fewer nodes only" if partial else "")


def _frontier_table(plan: Plan) -> Table:
    table = Table(title="Pareto frontier (hours vs dollars)", title_justify="left")
    for name in ("provider", "instance", "market", "nodes", "GPUs", "layout", "batch", "per GPU x acc", "lr", "hours",
                 "USD", "limits"):
        table.add_column(name, justify="right" if name in {"nodes", "GPUs", "batch", "hours", "USD"} else "left")
    for cid in plan.pareto[:FRONTIER_ROWS]:
        c = plan.candidate(cid)
        table.add_row(c.provider, c.instance, c.market, str(c.nodes), f"{c.gpu_count}x {c.gpu}", layout_short(c),
                      str(c.global_batch),
                      f"{c.per_gpu_batch} x {c.accumulation}", f"{c.lr.lr:.3g}",
                      f"{c.hours:,.2f}" + _range(c.hours_range, "{:,.2f}".format),
                      f"{c.cost_usd:,.2f}" + _range(c.cost_range, "{:,.2f}".format), _limits_text(c))
    return table


def _range(span: tuple[float, float] | None, fmt: Callable[[float], str]) -> str:
    return "" if span is None else f" ({fmt(span[0])}–{fmt(span[1])})"


def _data_flag(c: Candidate, lead: str = "") -> str:
    """The data-inflation flag: more than DATA_INFLATION_FLAG x the requested samples."""
    return f"{lead}data ×{c.data_ratio:.2g}" if c.data_ratio is not None and c.data_ratio > DATA_INFLATION_FLAG else ""


def _limits_text(c: Candidate) -> str:
    failed = [x for x, ok in (("late", c.meets_deadline), ("over budget", c.meets_budget),
                              ("no data", c.meets_data)) if not ok]
    return ", ".join(failed or ["ok"]) + _data_flag(c, ", ")


def _section_table(section: Section) -> Table:
    """A section as a borderless rich table: label, value, and where it came from."""
    table = Table(title=f"{section.title}" + (f": {section.lead}" if section.lead else ""), title_justify="left",
                  title_style="bold", show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column("figure", no_wrap=True)
    table.add_column("value", ratio=3)
    table.add_column("source", ratio=2)
    for row in section.rows:
        table.add_row(row.label, row.value, f"[{row.note}]" if row.note else "")
    for bullet in section.bullets:
        table.add_row("-", bullet, "")
    return table


def render_table(plan: Plan, width: int = 120) -> str:
    """The plan for a terminal: every section as a table of its rows, then the frontier."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None, markup=False,
                      highlight=False)
    console.print(probe_summary_line(plan))
    for section in plan_sections(plan):
        console.print()
        if section.rows or section.bullets:
            console.print(_section_table(section))
        else:
            console.print(f"{section.title}: {section.lead}")
        if section.kind == "candidates":
            console.print()
            console.print(_frontier_table(plan))
    console.print("\nprices as of " + ", ".join(f"{t.name} {t.as_of}" for t in plan.price_tables))
    return buffer.getvalue()


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown_section(section: Section) -> list[str]:
    out = ["", f"## {section.title}", ""]
    if section.lead:
        out += [section.lead, ""]
    if section.rows:
        out += ["| | | source |", "|---|---|---|"]
        out += [f"| {_markdown_cell(r.label)} | {_markdown_cell(r.value)} | {_markdown_cell(r.note)} |"
                for r in section.rows]
    out += [f"- {b}" for b in section.bullets]
    return out


def render_markdown(plan: Plan) -> str:
    """The plan as markdown: the same sections, each a heading and a table of its rows, and the frontier."""
    out = [f"# batchfit plan: {plan.probe.model_id}", "", probe_summary_line(plan)]
    for section in plan_sections(plan):
        out += _markdown_section(section)
        if section.kind == "candidates":
            out += ["", "## Pareto frontier", "",
                    "| provider | instance | market | nodes | GPUs | layout | global batch | per GPU x acc | lr | hours | USD "
                    "| limits |",
                    "|---|---|---|---:|---|---|---:|---|---|---:|---:|---|"]
            for cid in plan.pareto:
                c = plan.candidate(cid)
                out.append(f"| {c.provider} | {c.instance} | {c.market} | {c.nodes} | {c.gpu_count}x {c.gpu} | "
                           f"{layout_short(c)} | "
                           f"{c.global_batch} | "
                           f"{c.per_gpu_batch} x {c.accumulation} | {c.lr.lr:.3g} | "
                           f"{c.hours:,.2f}{_range(c.hours_range, '{:,.2f}'.format)} | "
                           f"{c.cost_usd:,.2f}{_range(c.cost_range, '{:,.2f}'.format)} | {_limits_text(c)} |")
    out += ["", "Prices as of: " + ", ".join(f"{t.name} {t.as_of}" for t in plan.price_tables), ""]
    return "\n".join(out)

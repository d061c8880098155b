"""Two plans compared for a cost review: what changed in the recommendation, hours and dollars, and why.

The "why" lists the inputs that differ between the plans — the request (workload, reference run,
limits, allowed offers), the probe (model, device, throughput, noise scale), the price of the old
pick in the new tables — and the recommendation's own reason. Markdown is the pull-request comment
(Infracost's `diff` is the model); JSON is for scripts. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planner.contracts.plan import Candidate, Plan


@dataclass
class PlanDiff:
    old: Candidate | None
    new: Candidate | None
    rows: list[tuple[str, str, str, str]]  # metric, old, new, change
    why: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def recommendation_changed(self) -> bool:
        return _pick_key(self.old) != _pick_key(self.new)

    @property
    def cost_delta_usd(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new.cost_usd - self.old.cost_usd


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    a = old.candidate(old.recommendation.candidate_id) if old.recommendation else None
    b = new.candidate(new.recommendation.candidate_id) if new.recommendation else None
    rows = [
        ("offer", _offer(a), _offer(b), _same_or("changed", _pick_key(a) == _pick_key(b))),
        ("GPUs", _gpus(a), _gpus(b), _same_or("changed", _gpus(a) == _gpus(b))),
        ("global batch", _int(a, "global_batch"), _int(b, "global_batch"), _pct(a, b, "global_batch")),
        ("per-GPU batch x accumulation", _micro(a), _micro(b), _same_or("changed", _micro(a) == _micro(b))),
        ("learning rate", _lr(a), _lr(b), _pct_lr(a, b)),
        ("steps", _int(a, "steps"), _int(b, "steps"), _pct(a, b, "steps")),
        ("hours", _num(a, "hours", "{:.3g}"), _num(b, "hours", "{:.3g}"), _pct(a, b, "hours")),
        ("cost (USD)", _num(a, "cost_usd", "${:,.2f}"), _num(b, "cost_usd", "${:,.2f}"), _usd_delta(a, b)),
        ("price (USD/hour)", _num(a, "price_per_hour", "{:.3f}"), _num(b, "price_per_hour", "{:.3f}"),
         _pct(a, b, "price_per_hour")),
    ]
    result = PlanDiff(old=a, new=b, rows=rows)
    result.why = _why(old, new, a, b)
    result.warnings = [w for w in new.warnings if w not in old.warnings]
    return result


def render_markdown(d: PlanDiff) -> str:
    lines = ["## batchfit plan diff", ""]
    if d.new is None:
        lines.append("**The new plan recommends nothing within its limits.**")
    elif d.old is None:
        lines.append(f"**New recommendation:** {d.new.label()} (the old plan recommended nothing).")
    elif d.recommendation_changed:
        lines.append(f"**Recommendation changed:** {d.old.label()} → {d.new.label()}")
    else:
        lines.append(f"**Recommendation unchanged:** {d.new.label()}")
    if d.cost_delta_usd is not None and d.old is not None:
        sign = "+" if d.cost_delta_usd >= 0 else "-"
        lines.append(f"Cost {sign}${abs(d.cost_delta_usd):,.2f} ({_signed_pct(d.old.cost_usd, d.new.cost_usd if d.new else 0)}).")
    lines += ["", "| | old | new | change |", "|---|---|---|---|"]
    lines += [f"| {m} | {o} | {n} | {c} |" for m, o, n, c in d.rows]
    lines += ["", "### Why", ""]
    lines += [f"- {w}" for w in d.why] or ["- nothing in the inputs changed"]
    if d.warnings:
        lines += ["", "### New warnings", ""] + [f"- {w}" for w in d.warnings]
    return "\n".join(lines) + "\n"


def to_json(d: PlanDiff) -> dict[str, Any]:
    return {
        "recommendation_changed": d.recommendation_changed,
        "old": d.old.model_dump(mode="json") if d.old else None,
        "new": d.new.model_dump(mode="json") if d.new else None,
        "cost_delta_usd": d.cost_delta_usd,
        "rows": [{"metric": m, "old": o, "new": n, "change": c} for m, o, n, c in d.rows],
        "why": d.why,
        "new_warnings": d.warnings,
    }


def _why(old: Plan, new: Plan, a: Candidate | None, b: Candidate | None) -> list[str]:
    why: list[str] = []
    ra, rb = old.request.model_dump(), new.request.model_dump()
    for key in sorted(set(ra) | set(rb)):
        if key != "schema_version" and ra.get(key) != rb.get(key):
            why.append(f"request {key}: {_short(ra.get(key))} → {_short(rb.get(key))}")
    pa, pb = old.probe, new.probe
    for label, x, y in (("model", pa.model_id, pb.model_id), ("probe device", pa.device, pb.device),
                        ("precision", pa.precision, pb.precision)):
        if x != y:
            why.append(f"{label}: {x} → {y}")
    if pa.best_samples_per_s != pb.best_samples_per_s and pa.best_samples_per_s and pb.best_samples_per_s:
        why.append(f"probe throughput: {pa.best_samples_per_s:.1f} → {pb.best_samples_per_s:.1f} samples/s "
                   f"({_signed_pct(pa.best_samples_per_s, pb.best_samples_per_s)})")
    na = old.statistical_efficiency.b_noise
    nb = new.statistical_efficiency.b_noise
    if na != nb:
        why.append(f"noise scale: {_short(na)} → {_short(nb)}")
    if a is not None:
        same = [c for c in new.candidates if _pick_key(c) == _pick_key(a) and c.global_batch == a.global_batch]
        if same and abs(same[0].price_per_hour - a.price_per_hour) > 1e-9:
            why.append(f"price of the old pick ({_offer(a)}): {a.price_per_hour:.3f} → {same[0].price_per_hour:.3f} USD/hour")
        elif not same and b is not None and _pick_key(a) != _pick_key(b):
            why.append(f"the old pick ({_offer(a)}, batch {a.global_batch}) is not among the new plan's listed candidates")
    tables_a = {(t.name, t.as_of.isoformat()) for t in old.price_tables}
    tables_b = {(t.name, t.as_of.isoformat()) for t in new.price_tables}
    if tables_a != tables_b:
        why.append("price tables: " + ", ".join(f"{n} as of {d}" for n, d in sorted(tables_a)) + " → "
                   + ", ".join(f"{n} as of {d}" for n, d in sorted(tables_b)))
    if new.recommendation is not None and (old.recommendation is None or old.recommendation.reason != new.recommendation.reason):
        why.append(f"new plan's reason: {new.recommendation.reason}")
    if new.recommendation is None and new.infeasible:
        why += [f"nothing fits: {reason}" for reason in new.infeasible]
    return why


def _pick_key(c: Candidate | None) -> tuple[str, str, str, str, int, int] | None:
    return None if c is None else (c.provider, c.instance, c.region, c.market, c.gpu_count, c.nodes)


def _offer(c: Candidate | None) -> str:
    if c is None:
        return "—"
    spot = " spot" if c.market == "spot" else ""
    return f"{c.provider} {c.instance}{spot} ({c.region})"


def _gpus(c: Candidate | None) -> str:
    if c is None:
        return "—"
    return f"{c.gpu_count}x {c.gpu}" if c.nodes == 1 else f"{c.nodes} nodes x {c.gpu_count}x {c.gpu}"


def _micro(c: Candidate | None) -> str:
    return "—" if c is None else f"{c.per_gpu_batch} x {c.accumulation}"


def _lr(c: Candidate | None) -> str:
    return "—" if c is None else f"{c.lr.lr:.3g}"


def _int(c: Candidate | None, name: str) -> str:
    return "—" if c is None else f"{getattr(c, name):,}"


def _num(c: Candidate | None, name: str, fmt: str) -> str:
    return "—" if c is None else fmt.format(getattr(c, name))


def _pct(a: Candidate | None, b: Candidate | None, name: str) -> str:
    if a is None or b is None:
        return "—"
    return _signed_pct(float(getattr(a, name)), float(getattr(b, name)))


def _pct_lr(a: Candidate | None, b: Candidate | None) -> str:
    return "—" if a is None or b is None else _signed_pct(a.lr.lr, b.lr.lr)


def _usd_delta(a: Candidate | None, b: Candidate | None) -> str:
    if a is None or b is None:
        return "—"
    delta = b.cost_usd - a.cost_usd
    return f"{'+' if delta >= 0 else '−'}${abs(delta):,.2f} ({_signed_pct(a.cost_usd, b.cost_usd)})"


def _signed_pct(old: float, new: float) -> str:
    if old == 0:
        return "new" if new else "0%"
    change = (new - old) / old * 100
    return "0%" if abs(change) < 0.05 else f"{change:+.1f}%"


def _same_or(word: str, same: bool) -> str:
    return "same" if same else word


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."

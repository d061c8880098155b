"""Price every (offer, node count, shape) triple at once, as numpy columns, and build Candidates on demand.

A catalog of 10,000 offers x 20 batch sizes is 200,000 candidates on one node each: their hours and
dollars are computed as arrays (one row per candidate), the choice works on those arrays, and only
the candidates a plan lists become pydantic models. A cluster of N instances of one offer (N in
`node_counts`, only where pricing/fabric.csv says the instance type is sold as a cluster) is N x
its hourly price for the same billed hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from planner.plan import priors
from planner.plan.shapes import Shape, ShapeBook, describe_offer
from planner.contracts.plan import DATA_INFLATION_FLAG, DATA_SHORTFALL_FLAG, Candidate, Exclusion
from planner.contracts.request import PlanRequest
from providers.schema import Fabric, Offer


@dataclass
class Evaluation:
    """Candidate i is shape `shape_index[i]` of group `group[i]` on offer `offer_index[i]`."""

    offers: list[Offer]
    shapes: list[list[Shape]]  # one list per (GPU, GPU count, nodes, fabric) group
    offer_index: np.ndarray
    group: np.ndarray
    shape_index: np.ndarray
    hours: np.ndarray
    cost: np.ndarray
    meets_deadline: np.ndarray
    meets_budget: np.ndarray
    excluded: list[Exclusion]
    samples: np.ndarray  # samples each candidate trains on
    requested_samples: float  # the request's (the reference run's) samples
    meets_data: np.ndarray  # its samples fit the request's data cap
    samples_cap: float | None  # most samples that exist (--max-samples, --max-epochs x --dataset-size)
    hours_range: np.ndarray | None = None  # (candidates, 2): at the ends of the B_noise range
    cost_range: np.ndarray | None = None
    nodes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # instances each candidate rents
    fabrics: list[Fabric | None] = field(default_factory=list)  # per offer: what joins its instances

    def __post_init__(self) -> None:
        if len(self.nodes) != len(self.hours):  # built without node counts: one instance each
            self.nodes = np.ones(len(self.hours), dtype=int)

    def __len__(self) -> int:
        return len(self.hours)

    def shape(self, i: int) -> Shape:
        return self.shapes[self.group[i]][self.shape_index[i]]

    def offer(self, i: int) -> Offer:
        return self.offers[self.offer_index[i]]

    def shape_column(self, value: Callable[[Shape], float]) -> np.ndarray:
        """One number per candidate from its shape, gathered group by group (no loop over candidates)."""
        per_group = [np.array([value(s) for s in group], dtype=float) for group in self.shapes]
        starts = np.cumsum([0] + [len(g) for g in per_group])[:-1].astype(int)
        flat = np.concatenate(per_group + [np.zeros(0, dtype=float)])
        return flat[starts[self.group] + self.shape_index] if len(self) else flat


def node_counts(max_nodes: int) -> list[int]:
    """Instances per candidate: powers of two up to --max-nodes, and --max-nodes itself."""
    counts = {max_nodes}
    n = 1
    while n < max_nodes:
        counts.add(n)
        n *= 2
    return sorted(counts)


def _fabric_index(fabrics: list[Fabric] | tuple[Fabric, ...]) -> dict[str, list[Fabric]]:
    """Fabric rows by provider, longest prefix first: the first whose prefix starts the name wins."""
    index: dict[str, list[Fabric]] = defaultdict(list)
    for f in sorted(fabrics, key=lambda f: -len(f.prefix)):
        index[f.provider].append(f)
    return index


def _fabric_of(index: dict[str, list[Fabric]], offer: Offer) -> Fabric | None:
    return next((f for f in index.get(offer.provider, ()) if offer.instance.startswith(f.prefix)), None)


def _node_exclusion(book: ShapeBook, offer: Offer, fabric: Fabric | None, planned: list[int],
                    failed: list[int], fitting: list[int], request: PlanRequest) -> Exclusion:
    """Why the offer's fewer node counts (or all of them) hold not even batch 1."""
    reason = book.memory_reason(offer, failed[0])
    more = [book.node_memory(offer, n) for n in failed[1:]]
    if fitting:
        lead = f"{failed[0]} node{'s' if failed[0] > 1 else ''}"
        reason = f"fewer than {min(fitting)} nodes: {lead}: {reason}" + "".join(f"; {m}" for m in more)
    elif more:
        reason += "; " + "; ".join(more) + f"; no node count up to --max-nodes {request.max_nodes} fits"
    if len(planned) == 1 and request.max_nodes > 1:
        why = (fabric.source if fabric is not None else
               "no row for it in pricing/fabric.csv; add one to plan it across nodes")
        reason += f"; not planned across nodes: {why}"
    return Exclusion(offer=describe_offer(offer), reason=reason, nodes=failed if fitting else [])


def evaluate(offers: list[Offer], book: ShapeBook, request: PlanRequest,
             fabrics: list[Fabric] | tuple[Fabric, ...] = ()) -> Evaluation:
    groups: dict[tuple[str, int, int, Fabric | None], list[int]] = defaultdict(list)
    excluded: list[Exclusion] = []
    counts = node_counts(request.max_nodes)
    index = _fabric_index(fabrics)
    same_fabric: dict[tuple[float, str, bool], Fabric] = {}
    offer_fabrics = [_fabric_of(index, o) for o in offers]
    for i, offer in enumerate(offers):
        reason = book.exclusion(offer)
        if reason is not None:
            excluded.append(reason)
            continue
        fabric = offer_fabrics[i]
        planned = counts if fabric is not None and fabric.clustered else [1]
        spec = book.gpus[offer.gpu]
        fit = {n: book.fits(spec, offer.gpu_count, n) for n in planned}
        fitting = [n for n in planned if fit[n]]
        failed = [n for n in planned if fit[n] is False]
        if failed:
            excluded.append(_node_exclusion(book, offer, fabric, planned, failed, fitting, request))
        # instance types whose fabrics time and read alike share their shapes
        alike = None if fabric is None else same_fabric.setdefault(
            (fabric.gbps, fabric.technology, fabric.source.startswith("unverified")), fabric)
        for n in fitting:
            groups[(offer.gpu, offer.gpu_count, n, alike if n > 1 else None)].append(i)

    shapes: list[list[Shape]] = []
    columns: dict[str, list[np.ndarray]] = defaultdict(list)
    for g, ((gpu, count, nodes, fabric), members) in enumerate(groups.items()):
        group_shapes = book.shapes(book.gpus[gpu], count, nodes, fabric)
        shapes.append(group_shapes)
        if not group_shapes:
            continue
        member = np.array(members)
        run_s = np.array([s.compute_seconds for s in group_shapes])  # (shapes,)
        spot = np.array([offers[i].market == "spot" for i in members])
        billing = np.array([offers[i].billing_seconds for i in members], dtype=np.float64)
        price = np.array([offers[i].price_per_hour for i in members]) * nodes  # N instances rented
        # seconds[offer, shape]: spot runs take longer by the interruption overhead
        seconds = run_s[None, :] * np.where(spot, 1 + priors.SPOT_INTERRUPTION_OVERHEAD, 1.0)[:, None]
        billed_h = np.ceil(seconds / billing[:, None]) * billing[:, None] / 3600
        n_offers, n_shapes = seconds.shape
        columns["offer_index"].append(np.repeat(member, n_shapes))
        columns["group"].append(np.full(n_offers * n_shapes, g))
        columns["nodes"].append(np.full(n_offers * n_shapes, nodes))
        columns["shape_index"].append(np.tile(np.arange(n_shapes), n_offers))
        columns["hours"].append((seconds / 3600).ravel())
        columns["samples"].append(np.tile(np.array([s.samples for s in group_shapes]), n_offers))
        columns["cost"].append((billed_h * price[:, None]).ravel())

    def column(name: str, dtype: type) -> np.ndarray:
        return np.concatenate(columns[name]) if columns[name] else np.zeros(0, dtype=dtype)

    hours = column("hours", float)
    cost = column("cost", float)
    deadline = request.deadline_hours
    budget = request.budget_usd
    samples = column("samples", float)
    cap = request.samples_cap()
    return Evaluation(
        offers=offers,
        shapes=shapes,
        offer_index=column("offer_index", int),
        group=column("group", int),
        shape_index=column("shape_index", int),
        hours=hours,
        cost=cost,
        meets_deadline=np.ones_like(hours, dtype=bool) if deadline is None else hours <= deadline,
        meets_budget=np.ones_like(cost, dtype=bool) if budget is None else cost <= budget,
        excluded=excluded,
        samples=samples,
        requested_samples=book.samples.reference_samples,
        meets_data=np.ones_like(samples, dtype=bool) if cap is None else samples <= cap,
        samples_cap=cap,
        nodes=column("nodes", int),
        fabrics=offer_fabrics,
    )


def widened_by_step_error(ev: Evaluation) -> Evaluation:
    """Hours and dollars ranges widened by each candidate's step-time error band e: the low end
    times (1 - e), the high end times (1 + e); a candidate without a B_noise range starts from its
    central figure. The limits stay judged as before: the band is a stated error, not a worst case."""
    error = ev.shape_column(lambda s: s.step_error).reshape(-1, 1)
    if not error.any():
        return ev
    hours = ev.hours_range if ev.hours_range is not None else np.stack([ev.hours, ev.hours], axis=1)
    cost = ev.cost_range if ev.cost_range is not None else np.stack([ev.cost, ev.cost], axis=1)
    scale = np.hstack([1 - error, 1 + error])
    return replace(ev, hours_range=hours * scale, cost_range=cost * scale)


def judged_at_both_ends(central: Evaluation, low: Evaluation, high: Evaluation, request: PlanRequest) -> Evaluation:
    """`central`'s candidates with hours and dollars as ranges over the B_noise ends (the same
    offers and shapes, so the rows align), each limit judged at the end worse for it."""
    hours = np.stack([low.hours, high.hours], axis=1)
    cost = np.stack([low.cost, high.cost], axis=1)
    worst_h = np.maximum(central.hours, hours.max(axis=1))
    worst_c = np.maximum(central.cost, cost.max(axis=1))
    worst_samples = np.maximum(central.samples, np.maximum(low.samples, high.samples))
    cap = request.samples_cap()
    return replace(
        central, hours_range=np.sort(hours, axis=1), cost_range=np.sort(cost, axis=1),
        meets_deadline=np.ones_like(worst_h, dtype=bool) if request.deadline_hours is None
        else worst_h <= request.deadline_hours,
        meets_budget=np.ones_like(worst_c, dtype=bool) if request.budget_usd is None else worst_c <= request.budget_usd,
        meets_data=np.ones_like(worst_samples, dtype=bool) if cap is None else worst_samples <= cap,
    )


def candidate(ev: Evaluation, i: int, seq_len: int | None = None) -> Candidate:
    """Candidate i as the plan lists it; its id is its row in the evaluation."""
    offer, shape = ev.offer(i), ev.shape(i)
    nodes = int(ev.nodes[i])
    fabric = ev.fabrics[ev.offer_index[i]] if nodes > 1 and ev.fabrics else None
    ratio = shape.samples / ev.requested_samples
    tokens = shape.global_batch * seq_len / shape.step_time_s / (offer.gpu_count * nodes) if seq_len else None
    return Candidate(
        id=i,
        provider=offer.provider,
        instance=offer.instance,
        region=offer.region,
        market=offer.market,
        gpu=offer.gpu,
        gpu_count=offer.gpu_count,
        nodes=nodes,
        total_gpus=offer.gpu_count * nodes,
        fabric=fabric.describe() if fabric is not None else None,
        precision=shape.precision,
        price_per_hour=offer.price_per_hour * nodes,
        per_gpu_batch=shape.per_gpu_batch,
        accumulation=shape.accumulation,
        global_batch=shape.global_batch,
        step_time_s=shape.step_time_s,
        step_time_provenance=shape.provenance,
        samples_per_s=shape.global_batch / shape.step_time_s,
        steps=shape.steps,
        samples=shape.samples,
        hours=float(ev.hours[i]),
        cost_usd=float(ev.cost[i]),
        hours_range=None if ev.hours_range is None else (float(ev.hours_range[i, 0]), float(ev.hours_range[i, 1])),
        cost_range=None if ev.cost_range is None else (float(ev.cost_range[i, 0]), float(ev.cost_range[i, 1])),
        data_ratio=ratio,
        meets_data=bool(ev.meets_data[i]),
        memory_per_gpu_bytes=shape.memory_bytes,
        memory_limit_bytes=shape.memory_limit_bytes,
        lr=shape.lr,
        meets_deadline=bool(ev.meets_deadline[i]),
        meets_budget=bool(ev.meets_budget[i]),
        notes=list(shape.notes) + _data_notes(ev, i, ratio),
        layout=shape.layout,
        checkpointing=shape.checkpointing,
        tokens_per_s_per_gpu=tokens,
        memory=shape.memory,
        comm_bytes_per_step=shape.comm_bytes,
        comm_inter_node_bytes=shape.inter_node_bytes,
        comm_exposed_s=shape.comm_exposed_s,
    )


def _data_notes(ev: Evaluation, i: int, ratio: float) -> list[str]:
    """The data-inflation and data-shortfall flags and the data cap, in words."""
    notes = []
    if ratio > DATA_INFLATION_FLAG:
        notes.append(f"trains on {ratio:.2g}x the requested samples ({ev.samples[i]:,.0f} vs "
                     f"{ev.requested_samples:,.0f}): more data than asked")
    elif ratio < DATA_SHORTFALL_FLAG:
        notes.append(f"trains on {ratio:.2g}x the reference run's samples ({ev.samples[i]:,.0f} vs "
                     f"{ev.requested_samples:,.0f}): far fewer, because the noise-scale read says a batch this "
                     "small needs less data; a read early in training makes small batches look cheap, "
                     "so give --target-loss (or --noise-scale from a read near it)")
    if not ev.meets_data[i] and ev.samples_cap is not None:
        notes.append(f"infeasible: needs {ev.samples[i]:,.0f} samples (at the worse end of the B_noise range "
                     f"when there is one), more than the {ev.samples_cap:,.0f} that exist (--max-samples / --max-epochs)")
    return notes

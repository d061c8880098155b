"""Plan: every candidate priced, the (hours, dollars) Pareto frontier, and the recommendation."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from planner.contracts.layout import Checkpointing, Layout, MemoryBreakdown
from planner.contracts.probe import KernelsChoice, MemoryFit, NoiseScale, Provenance
from planner.contracts.request import PlanRequest, Precision
from planner.contracts.settings import Strict
from providers.schema import Market, PriceTable

PLAN_SCHEMA_VERSION = 3  # 3: trainable, nodes (planner/contracts/migrate.py)

# A candidate training on more than this many times the requested samples is flagged in every
# output: its larger batch buys speed with data the user may not have.
DATA_INFLATION_FLAG = 1.2
# One training on fewer than this many times them is flagged too: the saving rests on the
# noise-scale read, and a read early in training (high loss, small B_noise) makes it look larger.
DATA_SHORTFALL_FLAG = 0.5

Policy = Literal["cheapest-within-deadline", "fastest-within-budget", "knee"]


class LrChoice(Strict):
    """Optimizer settings retuned from the reference run to this candidate's global batch."""

    lr: float
    rule: str = Field(description="the rule that made lr, e.g. 'sqrt (Malladi et al. 2022)'")
    ratio: float = Field(description="lr / reference lr")
    betas: tuple[float, float] | None = None
    betas_rule: str | None = Field(default=None, description="the rule that made betas, or why the SDE rule was not applied")
    eps: float | None = None
    eps_rule: str | None = None
    momentum: float | None = None
    momentum_rule: str | None = None
    weight_decay: float | None = None
    weight_decay_rule: str | None = None
    warmup_steps: int | None = None
    warmup_rule: str | None = None
    notes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list, description="a rule applied outside, or kept out of, its range")


class Candidate(Strict):
    id: int
    provider: str
    instance: str
    region: str
    market: Market
    gpu: str
    gpu_count: int = Field(description="GPUs per instance")
    nodes: int = Field(default=1, ge=1, description="instances of the offer rented together (a cluster)")
    total_gpus: int | None = Field(default=None, description="gpu_count x nodes: GPUs in the run")
    fabric: str | None = Field(default=None, description="what joins the nodes, e.g. '3,200 Gb/s EFA' (pricing/fabric.csv)")
    precision: Precision | None = Field(
        default=None, description="what this candidate runs in: the request's, or fp16 where the GPU lacks bf16")
    price_per_hour: float = Field(description="USD per hour for all the candidate's nodes")
    per_gpu_batch: int
    accumulation: int = Field(description="micro-batches accumulated per optimizer step")
    global_batch: int
    step_time_s: float = Field(description="seconds per optimizer step, all micro-batches and the all-reduce")
    step_time_provenance: Provenance
    samples_per_s: float
    steps: int
    samples: float
    hours: float
    cost_usd: float
    hours_range: tuple[float, float] | None = Field(
        default=None, description="hours at the ends of the plausible B_noise range (hours is at its central value)")
    cost_range: tuple[float, float] | None = Field(default=None, description="dollars at the same ends")
    data_ratio: float | None = Field(
        default=None, description="samples this candidate trains on / the request's samples (flagged above 1.2)")
    meets_data: bool = Field(default=True, description="its samples fit --max-samples / --max-epochs")
    memory_per_gpu_bytes: float
    memory_limit_bytes: float
    lr: LrChoice
    meets_deadline: bool
    meets_budget: bool
    notes: list[str] = Field(default_factory=list)
    layout: Layout = Field(default="ddp", description="how the GPUs share the model: ddp, zero1, zero2, fsdp or hsdp")
    checkpointing: Checkpointing = Field(default="none", description="activation checkpointing: none, selective, full")
    tokens_per_s_per_gpu: float | None = Field(default=None, description="sequence models: tokens/s each GPU trains")
    memory: MemoryBreakdown | None = Field(default=None, description="memory_per_gpu_bytes by what holds it")
    comm_bytes_per_step: float = Field(default=0.0, description="bytes each GPU sends per optimizer step (ring)")
    comm_inter_node_bytes: float = Field(default=0.0, description="the part of comm_bytes_per_step sent across nodes")
    comm_exposed_s: float = Field(default=0.0, description="seconds of that communication not hidden behind compute")

    @property
    def gpus(self) -> int:
        """GPUs in the run: every GPU of every node."""
        return self.total_gpus or self.gpu_count * self.nodes

    def label(self) -> str:
        spot = " spot" if self.market == "spot" else ""
        nodes = f" {self.nodes} nodes" if self.nodes > 1 else ""
        return f"{self.provider} {self.instance}{spot} ({self.region}){nodes} x{self.gpu_count} B={self.global_batch}"


class Recommendation(Strict):
    policy: Policy
    candidate_id: int
    reason: str
    bound_by: str = Field(description="which limit decided it: deadline, budget, frontier, or none")


class ProbeSummary(Strict):
    model_id: str
    params: int
    device: str
    precision: str
    kernels: KernelsChoice
    data: str
    best_batch: int | None
    best_samples_per_s: float | None
    memory_fit: MemoryFit | None
    noise_scale: NoiseScale | None


class TrainedSummary(Strict):
    """What the run trains: the request's --trainable resolved against the model (planner/plan/trainable.py)."""

    spec: str = Field(description="the canonical --trainable spec: full, lora:..., qlora:... or a fraction")
    trained_params: int = Field(ge=0, description="parameters the optimizer updates (LoRA: the adapters)")
    frozen_params: int = Field(ge=0, description="parameters kept frozen (LoRA: the whole base)")
    frozen_bytes: float = Field(ge=0, description="the frozen weights at their storage dtype, unsharded, bytes")
    explanation: str


class StatisticalEfficiency(Strict):
    """How many samples and steps each global batch needs to match the reference run."""

    mode: Literal["samples-fixed", "noise-scale"]
    reference_samples: float
    b_noise: float | None = None
    e_min: float | None = Field(default=None, description="samples needed at a vanishing batch")
    s_min: float | None = Field(default=None, description="steps needed at an infinite batch")
    b_noise_range: tuple[float, float] | None = Field(
        default=None, description="the plausible B_noise over the run: candidates are judged at both ends")
    explanation: str


class SensitivityRow(Strict):
    """What the cheapest-within-limits choice would be if the noise scale were b_noise."""

    b_noise: float
    candidate: str | None = Field(description="provider instance market (region), or None if nothing meets the limits")
    global_batch: int | None = None
    lr: float | None = None
    steps: int | None = None
    hours: float | None = None
    cost_usd: float | None = None


class ScalingRow(Strict):
    """One GPU count and node count of one GPU type at a fixed global batch: where adding GPUs stops paying."""

    gpu: str
    gpu_count: int = Field(description="GPUs per instance")
    nodes: int = Field(default=1, ge=1, description="instances")
    total_gpus: int | None = Field(default=None, description="gpu_count x nodes")
    global_batch: int
    step_time_s: float
    speedup: float = Field(description="step-time speed-up over the fewest GPUs of this type")
    efficiency: float = Field(description="speedup per GPU added: speedup x fewest / total GPUs")
    allreduce_share: float = Field(description="fraction of the step spent in the exposed all-reduce")
    cheapest_offer: str
    cost_usd: float
    pays: bool = Field(description="efficiency at or above the stated threshold")


class Exclusion(Strict):
    offer: str
    reason: str
    nodes: list[int] = Field(default_factory=list,
                             description="the fewer node counts excluded while more nodes fit; empty: the whole offer")


class Plan(Strict):
    schema_version: int = PLAN_SCHEMA_VERSION
    created_at: dt.datetime
    request: PlanRequest
    probe: ProbeSummary
    trainable: TrainedSummary | None = Field(default=None, description="what is trained (None: planned before "
                                             "plan schema 3, every parameter)")
    statistical_efficiency: StatisticalEfficiency
    candidates_evaluated: int = Field(description="every (offer, global batch) pair priced")
    listing: str = Field(description="which of the evaluated candidates `candidates` lists")
    candidates: list[Candidate]
    pareto: list[int] = Field(description="candidate ids on the (hours, dollars) frontier, fastest first")
    recommendation: Recommendation | None
    alternatives: list[Recommendation] = Field(default_factory=list)
    infeasible: list[str] = Field(default_factory=list, description="why nothing met the limits, when so")
    excluded: list[Exclusion] = Field(default_factory=list)
    noise_sensitivity: list[SensitivityRow] = Field(
        default_factory=list, description="without a measured noise scale: the choice across a range of them")
    scaling: list[ScalingRow] = Field(default_factory=list, description="the recommended GPU at each GPU count")
    assumptions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    price_tables: list[PriceTable]

    def candidate(self, candidate_id: int) -> Candidate:
        return next(c for c in self.candidates if c.id == candidate_id)

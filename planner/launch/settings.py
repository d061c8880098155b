"""What the recommended candidate asks of a launch: machine, node count, and the training settings.

The settings travel as environment variables (`BATCHFIT_*`) so the user's script reads them
without knowing batchfit. `num_nodes` is the candidate's node count: a cluster of that many
instances of its offer.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.contracts.plan import Candidate, Plan
from planner.errors import BadInput
from providers.pricing_context import load_context

# Rendezvous port on the first node; any free port works, 29500 is torchrun's own default.
MASTER_PORT = 29500


@dataclass(frozen=True)
class Launch:
    candidate: Candidate
    num_nodes: int
    gpus_per_node: int
    accelerator: str  # SkyPilot's name for the GPU, e.g. "H100"
    envs: dict[str, str]


def launch_from_plan(plan: Plan) -> Launch:
    """The recommended candidate as a launch; a plan without a recommendation is bad input here."""
    if plan.recommendation is None:
        raise BadInput("the plan recommends nothing (nothing fits the budget or deadline), so there is nothing to launch")
    candidate = plan.candidate(plan.recommendation.candidate_id)
    try:
        accelerator = load_context().namer.catalog_name(candidate.gpu)
    except KeyError as exc:
        raise BadInput(str(exc.args[0])) from None
    return Launch(
        candidate=candidate,
        num_nodes=candidate.nodes,
        gpus_per_node=candidate.gpu_count,
        accelerator=accelerator,
        envs=training_envs(candidate),
    )


def training_envs(candidate: Candidate) -> dict[str, str]:
    """Batch sizes, optimizer settings and step count, as strings (environment values)."""
    lr = candidate.lr
    envs = {
        "BATCHFIT_GLOBAL_BATCH": str(candidate.global_batch),
        "BATCHFIT_MICRO_BATCH": str(candidate.per_gpu_batch),
        "BATCHFIT_GRAD_ACCUM": str(candidate.accumulation),
        "BATCHFIT_STEPS": str(candidate.steps),
        "BATCHFIT_LR": f"{lr.lr:.6g}",
    }
    optional = {
        "BATCHFIT_BETA1": lr.betas[0] if lr.betas else None,
        "BATCHFIT_BETA2": lr.betas[1] if lr.betas else None,
        "BATCHFIT_EPS": lr.eps,
        "BATCHFIT_MOMENTUM": lr.momentum,
        "BATCHFIT_WEIGHT_DECAY": lr.weight_decay,
        "BATCHFIT_WARMUP_STEPS": lr.warmup_steps,
    }
    envs |= {k: f"{v:.6g}" if isinstance(v, float) else str(v) for k, v in optional.items() if v is not None}
    return envs

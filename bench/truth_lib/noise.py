"""The gradient noise scale at a checkpoint, with the project's estimator (planner.probe.noise).

The probe measures B_simple on whatever model it holds -- near initialisation -- while the
steps-to-target model needs B_noise where training is when it reaches the target (McCandlish
et al. 2018 measure it along the run; B_noise grows as the loss falls). So the bench keeps the
reference run's model at a ladder of loss levels and measures B_simple at each, parameters
frozen: the estimator's optimizer gets lr 0, so its steps read gradients without moving the
checkpoint, every step sees the same point and the steps are i.i.d. (near-uniform EMA weights).

One checkpoint is one point of a jittery constant-LR trajectory, and B_simple read there
jitters with it (|G|² is larger off the valley floor). The value used for the prediction pools
every checkpoint of the reference run inside the target crossing's fit window into one
estimator -- averaging |G|² and tr(Σ) over a stretch of training, as McCandlish et al. do.
"""

from __future__ import annotations

import dataclasses

import torch

from planner.contracts.probe import NoiseScale
from planner.models.mlp import next_byte_batch_maker
from planner.models.text_data import TokenSource
from planner.probe.noise import NoiseOutcome, NoiseScaleEstimator, measure_noise_scale
from planner.probe.step import TrainStep
from truth_lib.data import CPU, make_bundle

NOISE_DATA_SEED = 20_000  # a stream of training batches no training run draws
FROZEN_EMA = 0.999  # frozen parameters: nothing drifts, so (almost) every step counts the same


@dataclasses.dataclass(frozen=True)
class NoiseSettings:
    b_small: int
    micro_batches: int  # B_big = micro_batches x b_small
    steps: int


def noise_at(train: TokenSource, states: list[dict[str, torch.Tensor]], settings: NoiseSettings) -> NoiseOutcome:
    """B_simple and its 90% band pooled over the model states `states`, `settings.steps` frozen steps in all."""
    estimator = NoiseScaleEstimator(settings.b_small, settings.micro_batches * settings.b_small, FROZEN_EMA,
                                    method=f"micro-batches at {len(states)} frozen checkpoint(s)")
    bundle = make_bundle(train, seed=0)
    bundle = dataclasses.replace(bundle, make_batch=next_byte_batch_maker(train, NOISE_DATA_SEED))
    for i, state in enumerate(states):
        bundle.model.load_state_dict(state)
        step = TrainStep(bundle, CPU)
        for group in step.optimizer.param_groups:
            group["lr"] = 0.0  # AdamW with lr 0 moves nothing, decay included
        share = settings.steps * (i + 1) // len(states) - settings.steps * i // len(states)
        measure_noise_scale(step, estimator, share)
    return estimator.outcome()


def describe(ns: NoiseScale) -> str:
    return f"B_simple {ns.b_simple:,.0f} (90% band {ns.low:,.0f}..{ns.high:,.0f})"

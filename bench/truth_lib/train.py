"""Train from a fixed init at one batch size until the held-out loss reaches a target; count the steps.

The held-out loss is evaluated on a geometric schedule (every EVAL_RATIO more steps), so every
run, long or short, gets the same relative resolution. The crossing is read from a local fit,
loss = a + b ln(step), over the evaluations within +-WINDOW (relative) of it: the fit smooths
the jitter that constant-LR training leaves in the loss, and unlike "first evaluation below the
target" it is not pulled early by a lucky dip.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from planner.contracts.plan import LrChoice
from planner.models.bundle import Batch, ModelBundle
from planner.probe.step import TrainStep
from truth_lib.data import CPU

EVAL_FIRST = 10  # first evaluation, steps
EVAL_RATIO = 1.04  # each evaluation 4% more steps than the last (at least one more)
WINDOW = 0.12  # the local fit uses evaluations within [s/1.12, s*1.12] of the crossing s


@dataclass(frozen=True)
class OptSettings:
    """AdamW settings of one run, at a constant learning rate (the reference has no warmup, so no retune adds one)."""

    lr: float
    betas: tuple[float, float]
    eps: float
    weight_decay: float

    @classmethod
    def from_choice(cls, choice: LrChoice) -> OptSettings:
        assert choice.betas is not None and choice.eps is not None, "an AdamW retune sets betas and eps"
        assert not choice.warmup_steps, "the bench trains at a constant lr, without warmup"
        return cls(lr=choice.lr, betas=choice.betas, eps=choice.eps, weight_decay=choice.weight_decay or 0.0)


@dataclass
class Run:
    """One training run: its held-out loss curve and the step it reached the target (None: not within max_steps)."""

    batch: int
    seed: int
    settings: OptSettings
    target: float
    eval_steps: list[int] = field(default_factory=list)
    eval_losses: list[float] = field(default_factory=list)
    steps_to_target: float | None = None
    wall_s: float = 0.0
    checkpoints: dict[float, dict[str, torch.Tensor]] = field(default_factory=dict)  # loss level -> model state
    near_target: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # step -> state, near the crossing

    def states_in_window(self) -> dict[int, dict[str, torch.Tensor]]:
        """The kept model states within the fit window around the crossing (none if the target was missed)."""
        if self.steps_to_target is None:
            return {}
        low, high = self.steps_to_target / (1 + WINDOW), self.steps_to_target * (1 + WINDOW)
        return {s: state for s, state in self.near_target.items() if low <= s <= high}


def next_eval(step: int) -> int:
    return max(step + 1, math.ceil(step * EVAL_RATIO))


def crossing_step(steps: list[int], losses: list[float], target: float) -> float | None:
    """Steps at which the smoothed loss curve crosses `target` (fractional), or None if it never drops below.

    Starts at the first evaluation at or below the target, then twice recentres a least-squares fit
    of loss on ln(step) over the evaluations within the window and solves it for the target.
    A fit that does not fall (noise only) keeps the first crossing.
    """
    below = [i for i, loss in enumerate(losses) if loss <= target]
    if not below:
        return None
    s_arr, l_arr = np.asarray(steps, dtype=float), np.asarray(losses)
    estimate = float(s_arr[below[0]])
    for _ in range(2):
        near = (s_arr >= estimate / (1 + WINDOW)) & (s_arr <= estimate * (1 + WINDOW))
        if near.sum() < 3:
            break
        slope, intercept = np.polyfit(np.log(s_arr[near]), l_arr[near], 1)
        if slope >= 0:
            break
        estimate = math.exp((target - intercept) / slope)
    return estimate


def make_optimizer(model: torch.nn.Module, settings: OptSettings) -> torch.optim.AdamW:
    # fused: on the CPU the default for-each AdamW step costs ~10x the fused one for this model.
    return torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=settings.betas, eps=settings.eps,
                             weight_decay=settings.weight_decay, fused=True)


def evaluate(bundle: ModelBundle, model: torch.nn.Module, batch: Batch) -> float:
    model.eval()
    with torch.inference_mode():
        loss = bundle.loss(model, batch).item()
    model.train()
    return loss


def train_to_target(bundle: ModelBundle, batch: int, seed: int, settings: OptSettings, target: float,
                    eval_set: Batch, max_steps: int, checkpoint_levels: tuple[float, ...] = (),
                    keep_near_target: bool = False) -> Run:
    """Train `bundle` (fresh, as built for `seed`) at `batch` until the smoothed held-out loss crosses `target`.

    Trains on past the first evaluation below the target by the fit window, so the crossing has
    evaluations on both sides. For the noise-scale measurement: at each loss level in
    `checkpoint_levels` the model's state is kept the first time an evaluation reaches it, and
    with `keep_near_target` the state at every evaluation that may fall in the fit window.
    """
    run = Run(batch=batch, seed=seed, settings=settings, target=target)
    step = TrainStep(bundle, CPU)
    step.optimizer = make_optimizer(step.model, settings)
    levels = sorted(checkpoint_levels, reverse=True)
    stop_at = max_steps
    due = EVAL_FIRST
    began = time.perf_counter()
    for done in range(1, max_steps + 1):
        step.run(bundle.make_batch(batch, CPU))
        if done == due:
            loss = evaluate(bundle, step.model, eval_set)
            if not math.isfinite(loss):
                break  # diverged: the target is not reached
            run.eval_steps.append(done)
            run.eval_losses.append(loss)
            while levels and loss <= levels[0]:
                run.checkpoints[levels.pop(0)] = copy.deepcopy(step.model.state_dict())
            if loss <= target and stop_at == max_steps:
                stop_at = min(max_steps, math.ceil(done * (1 + WINDOW) ** 2))
            if keep_near_target:
                run.near_target[done] = copy.deepcopy(step.model.state_dict())
                if stop_at == max_steps:  # not crossed yet: only states the window may still reach
                    oldest = done / (1 + WINDOW) ** 2
                    run.near_target = {s: state for s, state in run.near_target.items() if s >= oldest}
            due = next_eval(done)
        if done >= stop_at:
            break
    run.wall_s = time.perf_counter() - began
    run.steps_to_target = crossing_step(run.eval_steps, run.eval_losses, target)
    return run

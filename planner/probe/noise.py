"""The probe's noise-scale phase: real training steps that read B_simple (noise_estimator.py).

In one process the two sizes are micro-batches: B_big = k x B_small, each micro-batch's gradient
is added into an accumulator by `kernels.accumulate_grad_sqnorm`, which returns |g_small|² from
the same pass; the mean of the k micro-batch gradients is the big batch's gradient, and the
optimizer steps with it (real training). The accumulator after 2, 4, ... micro-batches is the
gradient of 2·B_small, 4·B_small, ...: those reads show how B_simple depends on B_small. Under
DDP the per-rank gradient is the small batch and the all-reduced one the big batch (ddp_worker.py).

Adam-family optimizers: the same norms are also taken of the gradients divided by Adam's
preconditioner √v̂ + ε (AdaptDL's AdamGradientNoiseScale; McCandlish et al. 2018 §2.2 suggest
it): the noise scale of the update direction Adam actually follows. The preconditioner is read
once per step, before that step's update, so both sizes of one step see the same one.

B_small is chosen here (`choose_b_small`), not left to where the sweep stopped: the smallest of
the largest batch that fits, max_batch and the reference run's batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from planner.contracts.probe import NoiseScale
from planner.contracts.probe_config import ProbeConfig
from planner.models.messages import one_line
from planner.probe.noise_estimator import (
    MIN_BAND_STEPS,
    MIN_STEPS,
    NoiseOutcome,
    NoiseScaleEstimator,
    format_batch,
    preconditioned,
    two_batch_estimates,
)
from planner.probe.point import Cancelled
from planner.probe.step import TrainStep

__all__ = ["MIN_BAND_STEPS", "MIN_STEPS", "NoiseOutcome", "NoiseScaleEstimator", "choose_b_small", "format_batch",
           "measure_noise_scale", "noise_phase", "two_batch_estimates"]

PRECONDITIONER = "Adam's sqrt(exp_avg_sq / (1 - beta2^step)) + eps (AdaptDL)"
MIN_PRECONDITION_STEPS = 5  # v̂ averages too few squared gradients before this (AdaptDL waits 5 steps too)
RESERVE_MARGIN = 1.5  # a measured step costs more than a training step (its extra norms), and a busy machine varies


def choose_b_small(fits: int, max_batch: int | None, reference_batch: int | None) -> int:
    """The noise phase's B_small: the smallest of the largest batch that fits, max_batch and the
    reference run's batch -- the same on every run of one setup, wherever the sweep stopped."""
    return min(b for b in (fits, max_batch, reference_batch) if b is not None)


def prefix_sizes(micro_batches: int) -> list[int]:
    """Micro-batch counts j = 2, 4, ... below k whose running sum is read as a gradient of j·B_small."""
    return [j for j in (2**m for m in range(1, micro_batches.bit_length())) if j < micro_batches]


def adam_denominators(step: TrainStep, params: list[torch.nn.Parameter]) -> list[torch.Tensor] | None:
    """Per parameter √v̂ + ε of an Adam-family optimizer, or None (not Adam, or too few steps yet)."""
    optimizer = step.optimizer
    groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    denominators = []
    for param in params:
        group, state = groups.get(id(param)), optimizer.state.get(param, {})
        if group is None or "betas" not in group or "exp_avg_sq" not in state or "step" not in state:
            return None
        steps = float(state["step"])
        if steps < MIN_PRECONDITION_STEPS:
            return None
        v_hat = state["exp_avg_sq"].float() / (1 - group["betas"][1] ** steps)
        denominators.append(v_hat.sqrt().add_(group["eps"]))
    return denominators


def is_adam_family(step: TrainStep) -> bool:
    return all("betas" in g and "eps" in g for g in step.optimizer.param_groups)


StepCallback = Callable[[NoiseScaleEstimator], None]
LOSS_WINDOW = 10  # training steps whose mean loss is held against noise_target_loss


def set_learning_rate(step: TrainStep, lr: float | None) -> float:
    """Every param group's lr set to `lr` (None: left as it is); the lr in effect."""
    groups = step.optimizer.param_groups
    if lr is not None:
        for group in groups:
            group["lr"] = lr
    return float(groups[0]["lr"])


def recent_loss(losses: list[float]) -> float | None:
    return float(np.mean(losses[-LOSS_WINDOW:])) if losses else None


def noise_phase(step: TrainStep, config: ProbeConfig, b_small: int, deadline: float,
                cancel: threading.Event | None, say: Callable[[str], None]) -> NoiseOutcome:
    """The probe's noise-scale phase: config.noise_train_steps steps towards noise_target_loss,
    then config.noise_steps measured steps, all of B_big = k x b_small at config.noise_lr.

    The training ends early to leave time before `deadline` (time.perf_counter()) for
    min(noise_steps, MIN_BAND_STEPS) measured steps; the measurement stops before a step that
    would end past it (the time limit holds, even if fewer than MIN_STEPS ran and nothing is read),
    on `cancel` or Ctrl-C with the steps done so far; a failing step ends it with a warning. Never raises for a measurement that did not work out: the sweep's report stands.
    """
    k, steps = config.noise_micro_batches, config.noise_steps
    lr = set_learning_rate(step, config.noise_lr)
    estimator = NoiseScaleEstimator(b_small, k * b_small, config.noise_ema)
    pre = NoiseScaleEstimator(b_small, k * b_small, config.noise_ema, method="micro-batches, preconditioned") \
        if is_adam_family(step) else None
    every = max(1, steps // 10)  # about ten progress lines, however many steps
    train_losses: list[float] = []
    losses: list[float] = []
    warnings: list[str] = []

    def progress(e: NoiseScaleEstimator) -> None:
        if e.steps % every == 0 or e.steps == steps:
            current = e.b_simple()
            say(f"noise scale: step {e.steps}/{steps}, loss {recent_loss(losses):.4g}, " +
                (f"B_simple ≈ {format_batch(current)}" if current is not None else "not resolved yet"))

    try:
        if config.noise_train_steps:
            target = f" or to loss {config.noise_target_loss:g}" if config.noise_target_loss is not None else ""
            say(f"noise scale: training {config.noise_train_steps} steps{target} first, "
                f"B_big={k * b_small}, lr {lr:g}")
            stopped = train_before_measuring(step, config, b_small, train_losses, deadline, cancel, say)
            if stopped == "time limit":
                at = f", at loss {recent_loss(train_losses):.4g}" if train_losses else ""
                warnings.append(f"noise scale: the training before it stopped after {len(train_losses)} of "
                                f"{config.noise_train_steps} steps{at}, to leave the time limit room for "
                                f"{min(steps, MIN_BAND_STEPS)} measured steps; a longer --time-limit lets it go on")
        say(f"noise scale: {steps} training steps of B_big={k * b_small} as {k} micro-batches of B_small={b_small}")
        stopped = measure_noise_scale(step, estimator, steps, deadline=deadline, cancel=cancel, on_step=progress,
                                      losses=losses, preconditioned_estimator=pre)
    except Cancelled:
        stopped = "cancelled"
    except KeyboardInterrupt:
        stopped = "interrupted (Ctrl-C)"
    except Exception as exc:
        done = len(train_losses) + estimator.steps
        return NoiseOutcome(None, [f"noise scale not measured: step {done + 1} failed ({one_line(exc)})"])
    outcome = estimator.outcome()
    outcome.warnings[:0] = warnings
    if stopped:
        outcome.warnings.insert(0, f"noise scale: {stopped} after {estimator.steps} of {steps} steps")
    if outcome.noise_scale is not None:
        extra, pre_warnings = preconditioned(pre, PRECONDITIONER) if pre is not None else (None, [])
        outcome.warnings += pre_warnings
        ns = outcome.noise_scale = NoiseScale.model_validate({
            **outcome.noise_scale.model_dump(), "lr": lr, "trained_steps": len(train_losses),
            "train_loss": estimator.weighted_mean(losses), "preconditioned": extra})
        say(f"noise scale: B_simple ≈ {format_batch(ns.b_simple)} ({band_text(ns.low, ns.high)}) "
            f"from {ns.steps} steps at B_small={ns.b_small}, B_big={ns.b_big}, loss {ns.train_loss:.4g}")
        if extra is not None:
            say(f"noise scale, Adam-preconditioned: B_simple ≈ {format_batch(extra.b_simple)} "
                f"({band_text(extra.low, extra.high)})")
    return outcome


def band_text(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return f"no band: under {MIN_BAND_STEPS} measured steps"
    return f"90% band {format_batch(low)} .. {format_batch(high)}"


def train_before_measuring(step: TrainStep, config: ProbeConfig, b_small: int, losses: list[float],
                           deadline: float, cancel: threading.Event | None, say: Callable[[str], None]) -> str | None:
    """Up to config.noise_train_steps steps of the measurement's own kind (B_big as micro-batches,
    the norms discarded), each step's loss appended to `losses`.

    Returns "target loss" once the mean of the last LOSS_WINDOW losses is at or below
    config.noise_target_loss, "time limit" once the time left before `deadline` would no longer
    hold min(noise_steps, MIN_BAND_STEPS) more steps, else None (every step ran).
    """
    k, total, target = config.noise_micro_batches, config.noise_train_steps, config.noise_target_loss
    reserved_steps = min(config.noise_steps, MIN_BAND_STEPS)
    params = [p for p in step.model.parameters() if p.requires_grad]
    accums = [torch.zeros(p.shape, dtype=torch.float32, device=p.device) for p in params]
    every = max(1, total // 10)
    began = time.perf_counter()
    try:
        for done in range(total):
            per_step = (time.perf_counter() - began) / done if done else 0.0
            if time.perf_counter() + RESERVE_MARGIN * reserved_steps * per_step >= deadline:
                return "time limit"
            losses.append(_one_step(step, params, accums, b_small, k, cancel).loss)
            if (done + 1) % every == 0:
                say(f"noise scale: trained {done + 1}/{total} steps, loss {recent_loss(losses):.4g}")
            if target is not None and len(losses) >= LOSS_WINDOW and float(np.mean(losses[-LOSS_WINDOW:])) <= target:
                say(f"noise scale: loss {recent_loss(losses):.4g} reached {target:g} after {done + 1} steps")
                return "target loss"
        return None
    finally:
        step.release_grads()  # the gradients alias these accumulators: free both before the measurement's


def measure_noise_scale(step: TrainStep, estimator: NoiseScaleEstimator, steps: int, *,
                        deadline: float | None = None, cancel: threading.Event | None = None,
                        on_step: StepCallback | None = None, losses: list[float] | None = None,
                        preconditioned_estimator: NoiseScaleEstimator | None = None) -> str | None:
    """Train `steps` real steps of B_big = k x B_small samples, adding each step to `estimator`
    (with the reads at 2·B_small, 4·B_small, ... below B_big), its mean training loss to
    `losses`, and its Adam-preconditioned norms to `preconditioned_estimator`, when given (steps
    before Adam's state is MIN_PRECONDITION_STEPS old are left out of that one).

    Stops early, before a step that would end past `deadline` (time.perf_counter(); the last
    step's time is the estimate), and says so ("time limit"); else returns None. Raises Cancelled (checked between micro-batches) when
    `cancel` is set; the steps finished so far stay in the estimator.
    """
    b_small, micro_batches = estimator.b_small, estimator.b_big // estimator.b_small
    if micro_batches * b_small != estimator.b_big:
        raise ValueError(f"B_big={estimator.b_big} is not a multiple of B_small={b_small}")
    params = [p for p in step.model.parameters() if p.requires_grad]
    # fp32 whatever the parameters' dtype: k gradients summed in bf16 would lose the small ones.
    accums = [torch.zeros(p.shape, dtype=torch.float32, device=p.device) for p in params]
    last_s = 0.0  # seconds the last step took
    for _ in range(steps):
        began = time.perf_counter()
        if deadline is not None and began + last_s >= deadline:
            return "time limit"
        norms = _one_step(step, params, accums, b_small, micro_batches, cancel, measure=True,
                          precondition=preconditioned_estimator is not None)
        estimator.add(norms.small_sq, norms.big_sq, {j * b_small: v for j, v in norms.prefix_sq.items()})
        if preconditioned_estimator is not None and norms.pre_small_sq is not None and norms.pre_big_sq is not None:
            preconditioned_estimator.add(norms.pre_small_sq, norms.pre_big_sq)
        if losses is not None:
            losses.append(norms.loss)
        if on_step is not None:
            on_step(estimator)
        last_s = time.perf_counter() - began
    return None


@dataclass
class StepNorms:
    """One step's squared gradient norms (fp32 sums) and its mean loss."""

    small_sq: float  # mean |g_small|² over the micro-batches
    big_sq: float  # |g_big|², the mean of the micro-batch gradients
    loss: float
    prefix_sq: dict[int, float] = field(default_factory=dict)  # j -> |sum of the first j / j|²: a j·B_small gradient
    pre_small_sq: float | None = None  # the same, of the gradients divided by Adam's √v̂ + ε
    pre_big_sq: float | None = None


def _one_step(step: TrainStep, params: list[torch.nn.Parameter], accums: list[torch.Tensor], b_small: int,
              micro_batches: int, cancel: threading.Event | None, measure: bool = False,
              precondition: bool = False) -> StepNorms:
    """One training step of `micro_batches` x `b_small` samples; `measure` adds the prefix reads,
    `precondition` the preconditioned norms (where Adam's state is old enough)."""
    from kernels import (
        accumulate_grad_sqnorm,  # imports triton: only once a noise scale is asked for
    )

    step.release_grads()  # last step's gradients may alias the accumulators zeroed next
    for accum in accums:
        accum.zero_()
    denominators = adam_denominators(step, params) if precondition else None  # before this step's update
    prefixes = set(prefix_sizes(micro_batches)) if measure else set()
    touched = [False] * len(params)  # a parameter no micro-batch reached keeps grad None, as in training
    small_sq, pre_small_sq, losses, prefix_sq = [], [], [], {}
    for j in range(1, micro_batches + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        losses.append(step.forward_backward(step.bundle.make_batch(b_small, step.device), zero_grad=True).float())
        live = [i for i, p in enumerate(params) if p.grad is not None]
        for i in live:
            touched[i] = True
        grads = [g.contiguous() for g in (params[i].grad for i in live) if g is not None]
        if denominators is not None:
            pre_small_sq.append(_sqnorm(grads, [denominators[i] for i in live]))
        # Each micro-batch loss is a mean over its samples, so its gradient is g_small.
        small_sq.append(accumulate_grad_sqnorm([accums[i] for i in live], grads))
        if j in prefixes:
            prefix_sq[j] = _sqnorm([accums[i] for i, reached in enumerate(touched) if reached]) / j**2
    step.release_grads()
    big_sq = torch.zeros((), dtype=torch.float32, device=step.device)
    reached = [i for i, t in enumerate(touched) if t]
    for i in reached:
        accums[i].div_(micro_batches)  # the mean of k micro-batch means: the B_big gradient
        big_sq += accums[i].square().sum()
        params[i].grad = accums[i].to(params[i].dtype)
    pre_big_sq = _sqnorm([accums[i] for i in reached], [denominators[i] for i in reached]) \
        if denominators is not None else None
    step.optimizer_step()
    # one device sync per step
    head = [torch.stack(small_sq).mean(), big_sq, torch.stack(losses).mean(), *prefix_sq.values()]
    if pre_big_sq is not None:
        head += [torch.stack(pre_small_sq).mean(), pre_big_sq]
    values = torch.stack(head).tolist()
    norms = StepNorms(values[0], values[1], values[2], dict(zip(prefix_sq, values[3:3 + len(prefix_sq)], strict=True)))
    if pre_big_sq is not None:
        norms.pre_small_sq, norms.pre_big_sq = values[-2], values[-1]
    return norms


def _sqnorm(tensors: list[torch.Tensor], denominators: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Σ |t / d|² in fp32 (d = 1 when no denominators), as a 0-d tensor: no device sync."""
    total = torch.zeros((), dtype=torch.float32, device=tensors[0].device if tensors else None)
    for n, t in enumerate(tensors):
        t32 = t.float() if denominators is None else t.float() / denominators[n]
        total += t32.square().sum()
    return total

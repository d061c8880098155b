"""Gradient noise scale B_simple = tr(Σ)/|G|² from squared gradient norms at two batch sizes.

McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", Appendix A. A gradient
averaged over B samples has E|g_B|² = |G|² + tr(Σ)/B, so two batch sizes B_small < B_big give
unbiased estimates of both terms (`two_batch_estimates`). Per step they are far too noisy to
divide, so each is averaged over steps on its own -- an exponential moving average, since the
model trains while we measure -- and only the averages are divided.

The band is a bootstrap over steps: the steps are resampled with replacement (each keeping its
EMA weight), the same weighted ratio is taken per resample, and the 5th and 95th percentiles of
those ratios are the 90% band. On the closed-form task of tests/probe/test_noise_scale.py
(B_simple = 25, 300 seeds) it held the truth 89-90% of the time for 20-60 steps at B_small = 16,
and 85% at B_small = 4 (the estimate's spread grows as B_small falls below B_simple). A band open
above (|G|² not resolved from zero) or reaching zero (tr(Σ) not resolved from zero) yields no
NoiseScale but a warning with the bound we have.

In one process (`measure_noise_scale`) the two sizes are micro-batches: B_big = k x B_small,
each micro-batch's gradient is added into an accumulator by `kernels.accumulate_grad_sqnorm`,
which returns |g_small|² from the same pass; the mean of the k micro-batch gradients is the
big batch's gradient, and the optimizer steps with it (real training). Under DDP the per-rank
gradient is the small batch and the all-reduced one the big batch (see ddp_worker.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from planner.contracts.probe import NoiseScale
from planner.models.messages import one_line
from planner.contracts.probe_config import ProbeConfig
from planner.probe.point import Cancelled
from planner.probe.step import TrainStep

MIN_STEPS = 3  # fewer steps give no band worth the name; the phase runs at least this many
BAND = (0.05, 0.95)  # bootstrap percentiles: a 90% band
RESAMPLES = 1000
BOOTSTRAP_SEED = 0  # the band of a given run is reproducible


def format_batch(samples: float) -> str:
    """1,234 / 12.3 / 0.829: whole samples from 100 up, three significant digits below."""
    return f"{samples:,.0f}" if samples >= 100 else f"{samples:.3g}"


def two_batch_estimates(g_small_sq: float, g_big_sq: float, b_small: int, b_big: int) -> tuple[float, float]:
    """(|G|², tr(Σ)) estimated from |g|² at B_small and at B_big (samples per gradient).

    Unbiased for E|g_B|² = |G|² + tr(Σ)/B; either may come out negative on one step.
    """
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < B_small < B_big, got B_small={b_small}, B_big={b_big}")
    g_sq = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small)
    trace = (g_small_sq - g_big_sq) / (1 / b_small - 1 / b_big)
    return g_sq, trace


@dataclass
class NoiseOutcome:
    """A NoiseScale when the estimate and its band are resolved, else None; warnings say why."""

    noise_scale: NoiseScale | None
    warnings: list[str] = field(default_factory=list)


@dataclass
class NoiseScaleEstimator:
    """Collects one (|g_small|², |g_big|²) pair per step; `outcome()` gives B_simple and its band.

    ema: weight kept by the running averages per step (0.95: the last ~20 steps count most).
    """

    b_small: int
    b_big: int
    ema: float = 0.95
    method: str = "micro-batches"
    g_sq: list[float] = field(default_factory=list)  # per-step |G|² estimates
    trace: list[float] = field(default_factory=list)  # per-step tr(Σ) estimates

    def __post_init__(self) -> None:
        two_batch_estimates(1.0, 1.0, self.b_small, self.b_big)  # validates the pair of sizes
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")

    @property
    def steps(self) -> int:
        return len(self.g_sq)

    def add(self, g_small_sq: float, g_big_sq: float) -> None:
        """One step: |g_small|² (the mean over its small batches) and |g_big|²."""
        g_sq, trace = two_batch_estimates(g_small_sq, g_big_sq, self.b_small, self.b_big)
        self.g_sq.append(g_sq)
        self.trace.append(trace)

    def averages(self) -> tuple[float, float]:
        """(EMA of |G|², EMA of tr(Σ)), bias-corrected -- which cancels in their ratio."""
        weights = self._weights()
        total = weights.sum()
        return float(weights @ np.array(self.g_sq)) / total, float(weights @ np.array(self.trace)) / total

    def weighted_mean(self, per_step: list[float]) -> float:
        """A per-step figure (one per step added) averaged with the estimates' EMA weights."""
        weights = self._weights()
        return float(weights @ np.array(per_step, dtype=float)) / float(weights.sum())

    def b_simple(self) -> float | None:
        """The current estimate, or None while |G|² or tr(Σ) averages to ≤ 0."""
        if not self.steps:
            return None
        g_sq, trace = self.averages()
        return trace / g_sq if g_sq > 0 and trace > 0 else None

    def band(self) -> tuple[float, float]:
        """The 90% bootstrap band (low, high); inf when |G|² is not resolved from zero, 0 when tr(Σ) is not."""
        weights = self._weights()
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        counts = rng.multinomial(self.steps, np.full(self.steps, 1 / self.steps), size=RESAMPLES)
        g_sq = counts @ (weights * np.array(self.g_sq))
        trace = counts @ (weights * np.array(self.trace))
        with np.errstate(divide="ignore", invalid="ignore"):
            # |G|² <= 0: the noise swamps the signal, B_noise is beyond reach (inf); else
            # tr(Σ) <= 0: no noise seen at all, B_noise is below anything measured (0).
            ratios = np.where(g_sq <= 0, np.inf, np.where(trace <= 0, 0.0, trace / g_sq))
        low, high = np.quantile(ratios, BAND, method="inverted_cdf")
        return float(low), float(high)

    def outcome(self) -> NoiseOutcome:
        if self.steps < MIN_STEPS:
            return NoiseOutcome(None, [f"noise scale not measured: {self.steps} step(s) ran, {MIN_STEPS} needed"])
        g_sq, trace = self.averages()
        low, high = self.band()
        if g_sq <= 0:
            bound = f"; B_noise is likely above {format_batch(low)}" if np.isfinite(low) else ""
            return self._unresolved(f"the |G|² estimate is {g_sq:.3g} <= 0, gradient noise dominates{bound}")
        if trace <= 0:
            return self._unresolved(f"the tr(Σ) estimate is {trace:.3g} <= 0, no gradient noise seen; "
                                    f"B_noise is likely below {self.b_small}")
        b_simple = trace / g_sq
        if not np.isfinite(high):
            return self._unresolved(f"B_simple ≈ {format_batch(b_simple)} but its 90% band is open above "
                                    f"(|G|² not resolved from zero): B_noise > {format_batch(low)}")
        if low <= 0:
            return self._unresolved(f"B_simple ≈ {format_batch(b_simple)} but its 90% band reaches 0 "
                                    f"(tr(Σ) not resolved from zero): B_noise < {format_batch(high)}")
        return NoiseOutcome(NoiseScale(
            b_simple=b_simple, low=min(low, b_simple), high=max(high, b_simple), b_small=self.b_small,
            b_big=self.b_big, steps=self.steps, provenance="measured", grad_sqnorm=g_sq, trace_sigma=trace,
            ema=self.ema, method=f"two-batch ({self.method}); band: 90% bootstrap over steps",
        ))

    def _unresolved(self, why: str) -> NoiseOutcome:
        warning = (f"noise scale not resolved (B_small={self.b_small}, B_big={self.b_big}, {self.steps} steps): "
                   f"{why}; more steps (--noise-steps) narrow the band")
        return NoiseOutcome(None, [warning])

    def _weights(self) -> np.ndarray:
        """EMA weights, oldest step first: ema^(steps-1), ..., ema, 1."""
        return self.ema ** np.arange(self.steps - 1, -1, -1, dtype=float)


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

    Stops at `deadline` (time.perf_counter(), the measurement after at least MIN_STEPS), on
    `cancel` or Ctrl-C with the steps done so far; a failing step ends it with a warning. Never
    raises for a measurement that did not work out: the sweep's report stands either way.
    """
    k, steps = config.noise_micro_batches, config.noise_steps
    lr = set_learning_rate(step, config.noise_lr)
    estimator = NoiseScaleEstimator(b_small, k * b_small, config.noise_ema)
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
                warnings.append(f"noise scale: the training before it reached the time limit after "
                                f"{len(train_losses)} of {config.noise_train_steps} steps{at}; "
                                "a longer --time-limit lets it go on")
        say(f"noise scale: {steps} training steps of B_big={k * b_small} as {k} micro-batches of B_small={b_small}")
        stopped = measure_noise_scale(step, estimator, steps, deadline=deadline, cancel=cancel, on_step=progress,
                                      losses=losses)
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
        ns = outcome.noise_scale = outcome.noise_scale.model_copy(
            update={"lr": lr, "trained_steps": len(train_losses), "train_loss": estimator.weighted_mean(losses)})
        say(f"noise scale: B_simple ≈ {format_batch(ns.b_simple)} "
            f"(90% band {format_batch(ns.low)} .. {format_batch(ns.high)}) "
            f"from {ns.steps} steps at B_small={ns.b_small}, B_big={ns.b_big}, loss {ns.train_loss:.4g}")
    return outcome


def train_before_measuring(step: TrainStep, config: ProbeConfig, b_small: int, losses: list[float],
                           deadline: float, cancel: threading.Event | None, say: Callable[[str], None]) -> str | None:
    """Up to config.noise_train_steps steps of the measurement's own kind (B_big as micro-batches,
    the norms discarded), each step's loss appended to `losses`.

    Returns "target loss" once the mean of the last LOSS_WINDOW losses is at or below
    config.noise_target_loss, "time limit" past `deadline`, else None (every step ran).
    """
    k, total, target = config.noise_micro_batches, config.noise_train_steps, config.noise_target_loss
    params = [p for p in step.model.parameters() if p.requires_grad]
    accums = [torch.zeros(p.shape, dtype=torch.float32, device=p.device) for p in params]
    every = max(1, total // 10)
    try:
        for done in range(total):
            if time.perf_counter() > deadline:
                return "time limit"
            losses.append(_one_step(step, params, accums, b_small, k, cancel)[2])
            if (done + 1) % every == 0:
                say(f"noise scale: trained {done + 1}/{total} steps, loss {recent_loss(losses):.4g}")
            if target is not None and len(losses) >= LOSS_WINDOW and recent_loss(losses) <= target:
                say(f"noise scale: loss {recent_loss(losses):.4g} reached {target:g} after {done + 1} steps")
                return "target loss"
        return None
    finally:
        step.release_grads()  # the gradients alias these accumulators: free both before the measurement's


def measure_noise_scale(step: TrainStep, estimator: NoiseScaleEstimator, steps: int, *,
                        deadline: float | None = None, cancel: threading.Event | None = None,
                        on_step: StepCallback | None = None, losses: list[float] | None = None) -> str | None:
    """Train `steps` real steps of B_big = k x B_small samples, adding each step to `estimator`
    (and its mean training loss to `losses`, when given).

    Stops early, after at least MIN_STEPS, once time.perf_counter() passes `deadline`, and says
    so ("time limit"); else returns None. Raises Cancelled (checked between micro-batches) when
    `cancel` is set; the steps finished so far stay in the estimator.
    """
    b_small, micro_batches = estimator.b_small, estimator.b_big // estimator.b_small
    if micro_batches * b_small != estimator.b_big:
        raise ValueError(f"B_big={estimator.b_big} is not a multiple of B_small={b_small}")
    params = [p for p in step.model.parameters() if p.requires_grad]
    # fp32 whatever the parameters' dtype: k gradients summed in bf16 would lose the small ones.
    accums = [torch.zeros(p.shape, dtype=torch.float32, device=p.device) for p in params]
    for done in range(steps):
        if done >= MIN_STEPS and deadline is not None and time.perf_counter() > deadline:
            return "time limit"
        small_sq, big_sq, loss = _one_step(step, params, accums, b_small, micro_batches, cancel)
        estimator.add(small_sq, big_sq)
        if losses is not None:
            losses.append(loss)
        if on_step is not None:
            on_step(estimator)
    return None


def _one_step(step: TrainStep, params: list[torch.nn.Parameter], accums: list[torch.Tensor], b_small: int,
              micro_batches: int, cancel: threading.Event | None) -> tuple[float, float, float]:
    """(mean |g_small|² over the micro-batches, |g_big|², mean loss) of one training step."""
    from kernels import accumulate_grad_sqnorm  # imports triton: only once a noise scale is asked for

    step.release_grads()  # last step's gradients may alias the accumulators zeroed next
    for accum in accums:
        accum.zero_()
    touched = [False] * len(params)  # a parameter no micro-batch reached keeps grad None, as in training
    small_sq, losses = [], []
    for _ in range(micro_batches):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        losses.append(step.forward_backward(step.bundle.make_batch(b_small, step.device), zero_grad=True).float())
        live = [i for i, p in enumerate(params) if p.grad is not None]
        for i in live:
            touched[i] = True
        # Each micro-batch loss is a mean over its samples, so its gradient is g_small.
        small_sq.append(accumulate_grad_sqnorm([accums[i] for i in live], [params[i].grad.contiguous() for i in live]))
    step.release_grads()
    big_sq = torch.zeros((), dtype=torch.float32, device=step.device)
    for param, accum, reached in zip(params, accums, touched, strict=True):
        if reached:
            accum.div_(micro_batches)  # the mean of k micro-batch means: the B_big gradient
            big_sq += accum.square().sum()
            param.grad = accum.to(param.dtype)
    step.optimizer_step()
    values = torch.stack([torch.stack(small_sq).mean(), big_sq, torch.stack(losses).mean()]).tolist()
    return values[0], values[1], values[2]  # one device sync per step

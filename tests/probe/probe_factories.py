"""User-style model factories for the probe tests (`tests.probe.probe_factories:<name>` references).

Each builds a tiny MLP on generated data whose failures are scripted by batch size, and whose
step time is scripted too: SCRIPTED_STEP_S[bundle id](B) is what the `scripted_clock` fixture
reports instead of the wall clock, so the sweep's decisions (plateau, OOM, refinement) do not
depend on how busy the test machine is. `sleep_s` makes a step really take that long.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from planner.models import ModelBundle
from planner.models.mlp import MLPClassifier

REF = f"{__name__}:"  # prefix of the model references to the factories below
FEATURES = 16
CLASSES = 4


SCRIPTED_STEP_S: dict[str, Callable[[int], float]] = {}


def scripted(name: str, step_s: Callable[[int], float] = lambda b: 0.01,
             sleep_s: Callable[[int], float] = lambda b: 0.0,
             fail: Callable[[int], BaseException | None] = lambda b: None,
             batch_fail: Callable[[int], BaseException | None] = lambda b: None) -> ModelBundle:
    """A bundle whose step is scripted to take step_s(B) seconds and whose loss really sleeps
    sleep_s(B) seconds, raises fail(B) when that is not None; make_batch raises batch_fail(B) likewise."""
    torch.manual_seed(0)
    SCRIPTED_STEP_S[name] = step_s

    def make_batch(batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        error = batch_fail(batch_size)
        if error is not None:
            raise error
        x = torch.randn(batch_size, FEATURES, device=device)
        return x, (x[:, :CLASSES].argmax(dim=1))

    def loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        error = fail(len(x))
        if error is not None:
            raise error
        time.sleep(sleep_s(len(x)))
        return F.cross_entropy(model(x), y)

    return ModelBundle(id=name, model=MLPClassifier(FEATURES, 32, 1, CLASSES), make_batch=make_batch, loss=loss,
                       data_kind="synthetic", data_source="gaussian features, label = argmax of the first four")


def linear_speedup() -> ModelBundle:
    """A fixed 20 ms per step whatever the batch: throughput doubles with every doubling."""
    return scripted("linear-speedup", step_s=lambda b: 0.02)


def sleepy() -> ModelBundle:
    """Every step really takes at least 50 ms, for the sweep's wall-clock time limit."""
    return scripted("sleepy", sleep_s=lambda b: 0.05)


def plateau_at_8() -> ModelBundle:
    """20 ms per step up to B=4, then 5 ms per sample: throughput flat from B=4 to B=8."""
    return scripted("plateau-at-8", step_s=lambda b: max(0.02, 0.005 * b))


def noisy_once_at_4() -> ModelBundle:
    """Near-linear speedup, but the first timing of B=4 is 25x slow (a busy neighbour), later ones not."""
    timed = {"calls": 0}

    def step_s(b: int) -> float:
        if b == 4:
            timed["calls"] += 1
            if timed["calls"] <= 2:  # the fast_config's two timed steps of the first measurement
                return 0.5
        return 0.02 + 0.0001 * b

    return scripted("noisy-once-at-4", step_s=step_s)


def one_flat_doubling() -> ModelBundle:
    """Throughput flat from B=2 to B=4 (one sub-threshold doubling), then doubling again."""
    return scripted("one-flat-doubling", step_s=lambda b: {1: 0.02, 2: 0.02, 4: 0.04}.get(b, 0.04))


def oom_above_20() -> ModelBundle:
    """Fixed step time, and a CUDA out-of-memory error for any batch above 20."""
    return scripted("oom-above-20",
                    fail=lambda b: torch.cuda.OutOfMemoryError("CUDA out of memory (scripted)") if b > 20 else None)


def batch_fails_from_8() -> ModelBundle:
    """make_batch raises for B >= 8, as a buggy user data pipeline would."""
    return scripted("batch-fails-from-8",
                    batch_fail=lambda b: ValueError("scripted data failure") if b >= 8 else None)


def interrupted_at_4() -> ModelBundle:
    """Ctrl-C arrives while B=4 runs."""
    return scripted("interrupted-at-4", fail=lambda b: KeyboardInterrupt() if b == 4 else None)


def fails_always() -> ModelBundle:
    return scripted("fails-always", fail=lambda b: RuntimeError("scripted model failure"))


def slow_from_4() -> ModelBundle:
    """With BATCHFIT_TEST_SLOW=1, B >= 4 hangs for a minute: the resume test kills the sweep there."""
    slow = os.environ.get("BATCHFIT_TEST_SLOW") == "1"
    return scripted("slow-from-4", sleep_s=lambda b: 60.0 if slow and b >= 4 else 0.0)


def _block_forever() -> None:
    threading.Event().wait()  # a loader waiting on a queue nobody fills: no timeout, no wake-up


def blocks_from_4() -> ModelBundle:
    """make_batch blocks forever for B >= 4: the probe must stop waiting at its time limit."""
    return scripted("blocks-from-4", batch_fail=lambda b: _block_forever() if b >= 4 else None)


def blocks_from_16() -> ModelBundle:
    """make_batch blocks forever for B >= 16: with max_batch 8, in the memory traces after the sweep."""
    return scripted("blocks-from-16", batch_fail=lambda b: _block_forever() if b >= 16 else None)


def slow_build() -> ModelBundle:
    """The factory takes 3 s to build (weights to load, a dataset to index) before any step."""
    time.sleep(3.0)
    return scripted("slow-build")


def fails_in_worker() -> ModelBundle:
    """Loads in the sweep's own process, raises in an isolated worker (a flaky factory)."""
    if getattr(sys.modules["__main__"].__spec__, "name", None) == "planner.probe.worker":
        raise RuntimeError("scripted factory failure")
    return scripted("fails-in-worker")


def non_scalar_loss() -> ModelBundle:
    bundle = scripted("non-scalar")
    bundle.loss = lambda model, batch: F.cross_entropy(model(batch[0]), batch[1], reduction="none")
    return bundle


def raises() -> ModelBundle:
    raise RuntimeError("weights not found")


def returns_wrong_type() -> dict:
    return {"model": None}


NOT_A_FUNCTION = 42


def wide_linear() -> ModelBundle:
    """4 M parameters and a few KB of activations per sample: at small batches the AdamW step's
    transient, not the activations, sets the peak, so measured peaks barely grow with B."""
    torch.manual_seed(0)
    width = 2048
    model = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, CLASSES))

    def make_batch(batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(batch_size, width, device=device), torch.randint(0, CLASSES, (batch_size,), device=device)

    def loss(m: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(m(x), y)

    return ModelBundle(id="wide-linear", model=model, make_batch=make_batch, loss=loss,
                       data_kind="synthetic", data_source="gaussian features")

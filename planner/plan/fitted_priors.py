"""The fitted priors of `pricing/priors_fit.json`, read once, with the rows and error behind them.

Written by `planner/plan/priors_fit.py` from the public throughput rows; read lazily (the fit
itself imports the planner's priors, so nothing here may run at import time).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Literal

from providers.rules import pricing_dir

PRIORS_FIT_FILE = "priors_fit.json"
PRIORS_FIT_SCHEMA_VERSION = 1

Harness = Literal["eager", "tuned"]
# A tuned plan takes the harness factor of the public source that trains what a traced model is:
# decoder LLMs under FSDP FULL_SHARD with bf16 autocast and flash attention (pricing/throughput.csv).
TUNED_HARNESS_SOURCE = "mosaicml-llm-foundry"


class PriorsFitError(RuntimeError):
    """The bundled fit is missing or unreadable: the installation is broken, not the user's input."""


@dataclass(frozen=True)
class FittedPriors:
    efficiency_at_reference: dict[str, float]  # op (matmul, conv) -> eager efficiency at R0
    ridge_reference: float  # R0, FLOP/byte
    eager_slope: float  # d ln e / d ln R for eager PyTorch steps
    tuned_slope: float  # the same for tuned stacks (FSDP with fused and flash kernels)
    harness_factor: dict[str, float]  # tuned source -> its efficiency over eager at the same ridge point
    host_s_per_param_tensor: float
    fitted_rows: int
    sources: tuple[str, ...]
    cross_gpu_median: float  # leave-one-source-out |error| of cross-GPU throughput ratios
    cross_gpu_worst: float

    def efficiency(self, op: str, ridge: float, harness: Harness = "eager") -> float:
        """Efficiency of `op` on a GPU whose ridge point (peak / bandwidth) is `ridge` FLOP/byte, for
        an eager PyTorch step or a tuned stack (the tuned slope and TUNED_HARNESS_SOURCE's factor)."""
        if harness == "eager":
            return min(1.0, self.efficiency_at_reference[op] * (ridge / self.ridge_reference) ** self.eager_slope)
        return min(1.0, self.efficiency_at_reference[op] * (ridge / self.ridge_reference) ** self.tuned_slope
                   * self.tuned_factor())

    def tuned_factor(self) -> float:
        return self.harness_factor[TUNED_HARNESS_SOURCE]

    def basis(self, harness: Harness = "eager") -> str:
        """One line naming the rows a prior-based step time rests on, and its error band (a tuned
        plan names its harness too: eager is what a probe's own steps are)."""
        tuned = f" (tuned: {TUNED_HARNESS_SOURCE} x{self.tuned_factor():.2f})" if harness == "tuned" else ""
        return (f"prior{tuned}: fitted on {self.fitted_rows} rows from {', '.join(self.sources)}; cross-GPU error "
                f"±{self.cross_gpu_median:.0%} (leave-one-source-out median, worst {self.cross_gpu_worst:.0%})")


@functools.cache
def fitted() -> FittedPriors:
    path = pricing_dir() / PRIORS_FIT_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw["schema_version"] != PRIORS_FIT_SCHEMA_VERSION:
            raise PriorsFitError(f"{path}: schema_version {raw['schema_version']}, this batchfit reads "
                                 f"{PRIORS_FIT_SCHEMA_VERSION}; reinstall batchfit")
        error = raw["cross_gpu_error"]
        return FittedPriors(
            efficiency_at_reference={k: float(v) for k, v in raw["efficiency_at_reference"].items()},
            ridge_reference=float(raw["ridge_reference_flop_per_byte"]),
            eager_slope=float(raw["ridge_slope"]["eager"]),
            tuned_slope=float(raw["ridge_slope"]["tuned"]),
            harness_factor={k: float(v) for k, v in raw["harness_factor"].items()},
            host_s_per_param_tensor=float(raw["host_s_per_param_tensor"]),
            fitted_rows=int(raw["fitted_rows"]),
            sources=tuple(raw["sources"]),
            cross_gpu_median=float(error["median_abs_error"]),
            cross_gpu_worst=float(error["worst_abs_error"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PriorsFitError(f"{path}: unreadable ({exc}); reinstall batchfit or run "
                             "python -m planner.plan.priors_fit --write") from None


def conv_to_matmul() -> float:
    """Eager convolutions' efficiency as a share of matmuls' (the same at every ridge point)."""
    e = fitted().efficiency_at_reference
    return e["conv"] / e["matmul"]


def ridge_point(peak_tflops: float, bandwidth_gbs: float) -> float:
    """FLOP per byte at which a kernel stops being memory-bound on this GPU."""
    return peak_tflops * 1e12 / (bandwidth_gbs * 1e9) if bandwidth_gbs > 0 else math.inf

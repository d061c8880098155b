"""What one offer trains per second at the largest per-GPU batch that fits its GPU.

`batchfit quotes --probe` ranks offers by this: the planner's own memory model (the largest
batch under the GPU's memory, margin and CUDA context kept free) and step-time model, so a
quote and a plan never disagree about a GPU. Each GPU gets its own batch: quoting every GPU at
the probe's best local batch would give a CPU's batch of 8 to an H200 as well.
"""

from __future__ import annotations

from planner.contracts.probe import ProbeReport
from planner.plan.build import memory_fit_for_plan
from planner.plan.gpu_match import match_local_gpu
from planner.plan.memory import largest_batch
from planner.plan.step_time import StepTimeModel
from providers.quotes import Rate
from providers.schema import GpuSpec, Offer


class OfferRate:
    """Callable (offer, its GPU) -> Rate, for providers.quotes.find_quotes."""

    def __init__(self, report: ProbeReport, gpus: dict[str, GpuSpec], precision: str | None = None,
                 tf32_matmul: bool = False) -> None:
        self.warnings: list[str] = []
        self.fit = memory_fit_for_plan(report, self.warnings)
        local = match_local_gpu(report.device, gpus)
        self.model = StepTimeModel(report, local, precision or report.settings.precision, tf32_matmul)

    def __call__(self, offer: Offer, spec: GpuSpec) -> Rate:
        micro = largest_batch(self.fit, spec.memory_bytes).largest_batch
        if micro < 1:
            return Rate(0.0)  # not even one sample fits: the quote shows no rate
        step = self.model.predict(spec, offer.gpu_count, micro, 1)
        return Rate(micro * offer.gpu_count / step.seconds, micro)

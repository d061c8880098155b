"""The (layout, checkpointing) options a plan weighs for each GPU count and node count, with their
memory lines.

A traced model (report.trace) offers every layout of planner/plan/parallel.py under each traced
checkpointing mode: memory per GPU = the layout's share of weights, gradients, optimizer state
and buffers + the mode's activations x micro-batch. A measured model offers DDP under the
checkpointing it was probed with: its fitted M(B) already holds the unsharded states, so it plans
a full fine-tune only. A LoRA, QLoRA or partial fine-tune (planner/plan/trainable.py) of a traced
model changes the states and each mode's FLOPs, never its activations.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.contracts.layout import (
    CHECKPOINTING,
    LAYOUTS,
    Checkpointing,
    Layout,
    MemoryBreakdown,
)
from planner.contracts.probe import MemoryFit, ProbeReport
from planner.contracts.request import PlanRequest
from planner.errors import BadInput
from planner.plan import parallel, trainable
from planner.plan.step_time import LayoutCost


@dataclass(frozen=True)
class Option:
    layout: Layout
    checkpointing: Checkpointing
    static_bytes: float  # per GPU, independent of the micro-batch
    per_sample_bytes: float
    states: MemoryBreakdown | None  # the static part by holder (traced models only)
    flops_per_sample: float | None  # None: the step-time model's own (measured models)
    model_states: parallel.ModelStates | None

    def largest_batch(self, usable_bytes: float) -> int:
        if self.per_sample_bytes <= 0:
            return 0 if self.static_bytes > usable_bytes else 1 << 20
        return max(0, int((usable_bytes - self.static_bytes) / self.per_sample_bytes + 1e-9))

    def bytes_at(self, batch: int) -> float:
        return self.static_bytes + batch * self.per_sample_bytes

    def breakdown(self, batch: int) -> MemoryBreakdown | None:
        if self.states is None:
            return None
        return MemoryBreakdown(params=self.states.params, grads=self.states.grads, optimizer=self.states.optimizer,
                               buffers=self.states.buffers, activations=batch * self.per_sample_bytes,
                               other=self.states.other)

    def cost(self, n_gpus: int, accumulation: int, nodes: int = 1) -> LayoutCost | None:
        """The step-time inputs of this option on `nodes` nodes of n GPUs; None keeps a measured
        model's own step model."""
        if self.model_states is None or self.flops_per_sample is None:
            return None
        comm = parallel.collectives(self.model_states, self.layout, n_gpus, accumulation, nodes)
        shard = parallel.shard_group(self.layout, n_gpus, nodes)
        return LayoutCost(flops_per_sample=self.flops_per_sample, comm=comm,
                          optimizer_share=parallel.optimizer_share(self.layout, shard))

    def describe(self) -> str:
        return parallel.describe(self.layout, self.checkpointing)


class LayoutBook:
    """Options per GPU count for one report and request."""

    def __init__(self, report: ProbeReport, request: PlanRequest, fit: MemoryFit) -> None:
        self.report = report
        self.fit = fit
        self.trained = trainable.resolve(request.trainable, report, request.precision)
        trace = report.trace
        if trace is None:
            probed: Checkpointing = "full" if report.settings.activation_checkpointing else "none"
            self.layouts: tuple[Layout, ...] = ("ddp",)
            self.modes: tuple[Checkpointing, ...] = (probed,)
            self._refuse(request, probed)
            self.states = None
        else:
            traced = tuple(m.checkpointing for m in trace.modes)
            self.layouts = tuple(request.layouts) if request.layouts else LAYOUTS
            self.modes = tuple(m for m in (request.checkpointing or CHECKPOINTING) if m in traced)
            if not self.modes:
                raise BadInput(f"--recompute {','.join(request.checkpointing or [])}: the trace holds "
                               f"{', '.join(traced)}")
            self.states = parallel.states_of(report, request.precision, report.settings.optimizer, self.trained)
        self._cache: dict[tuple[int, int], list[Option]] = {}

    def _refuse(self, request: PlanRequest, probed: Checkpointing) -> None:
        """A measured model plans only what was measured: say so rather than ignore the request."""
        if request.layouts and set(request.layouts) != {"ddp"}:
            raise BadInput(f"--layouts {','.join(request.layouts)}: a measured probe plans DDP only; "
                           "trace the model (--model-config or --trace-only) to weigh sharded layouts")
        if request.checkpointing and set(request.checkpointing) != {probed}:
            raise BadInput(f"--recompute {','.join(request.checkpointing)}: the probe measured '{probed}' only; "
                           "probe again with or without --checkpointing, or trace the model")

    def options(self, n_gpus: int, nodes: int = 1) -> list[Option]:
        """The options on `nodes` nodes of n GPUs each."""
        if (n_gpus, nodes) not in self._cache:
            self._cache[(n_gpus, nodes)] = list(self._options(n_gpus, nodes))
        return self._cache[(n_gpus, nodes)]

    def _options(self, n_gpus: int, nodes: int) -> list[Option]:
        trace = self.report.trace
        if trace is None or self.states is None:
            return [Option("ddp", self.modes[0], self.fit.static_bytes, self.fit.per_sample_bytes,
                           None, None, None)]
        out = []
        for layout in self.layouts:
            if layout != "ddp" and n_gpus * nodes < 2:
                continue  # sharding over one GPU is DDP with extra steps
            if layout == "hsdp" and (nodes < 2 or n_gpus < 2):
                continue  # one node: hsdp is fsdp; one GPU per node: hsdp is ddp
            for name in self.modes:
                mode = trace.mode(name)
                assert mode is not None
                shard = parallel.shard_group(layout, n_gpus, nodes)
                states = parallel.state_memory(self.states, layout, shard, other=mode.transient_bytes)
                flops = (mode.flops_per_sample if self.trained is None
                         else trainable.step_flops(self.trained, mode, self.report.model.seq_len or 1))
                out.append(Option(layout, name, states.total, mode.activation_bytes_per_sample, states,
                                  flops, self.states))
        return out

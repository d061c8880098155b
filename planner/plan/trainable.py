"""What a LoRA, QLoRA or partial fine-tune trains, stores and computes (PlanRequest.trainable).

Parameters. LoRA (Hu et al. 2021) adds A (r x in) and B (out x r) beside each adapted linear
layer: r x (in + out) trainable parameters per layer, from the trace's linear shapes
(ModelTrace.linears). A fraction trains that share of the parameters.

Memory (planner/plan/parallel.py holds the layout's share of each part):
- trained parameters (adapters, or the share): fp32 master, fp32 gradient, optimizer state and,
  under bf16/fp16, a 2-byte compute copy, as a full fine-tune has for every parameter;
- frozen parameters: stored at the compute dtype (2 B under bf16/fp16, 4 B under fp32), used as
  they are: no master, no gradient, no optimizer state, no second copy;
- QLoRA: every linear layer but the output head stored as 4-bit NF4 with block-wise constants
  (bitsandbytes, as Dettmers et al. 2023 train): 0.5 B per weight plus double-quantised absmax
  constants, 8-bit per 64 weights and fp32 per 256 of those, 8/64 + 32/(64 x 256) = 0.127
  bits per weight (the paper's section 3 figure); the embedding, head, norms and biases stay at
  the compute dtype; each matmul dequantises its weight to the compute dtype just before use
  (bitsandbytes MatMul4Bit saves the 4-bit weight for backward and dequantises again), so one
  layer's weight at the compute dtype is in flight.
- activations: the trace's, unchanged. A frozen linear's input is still saved, now for the
  adapter's weight gradient (A's input is the same tensor) and for the input gradient that
  flows to earlier adapters; LoRA's own r-wide intermediates are under 1% of a layer's at
  r <= 64 and are left out (lora_dropout 0, peft's default: no dropped copy of the input).

FLOPs per sample, for matmuls: a layer's forward F = 2 x in x out per token, its backward 2F
(the input gradient F and the weight gradient F); a frozen layer skips the weight gradient, so
    F_step = F_traced - seq x 2 sum_frozen(in x out) + k x seq x 2r sum_adapted(in + out),
k = 3 (the adapter's forward and both gradients), 4 under full checkpointing (its forward runs
again). A fully-frozen base costs about 2F instead of 3F for the matmul part; attention scores
and values hold no weights, and full checkpointing still recomputes the base's forward: both
stay as traced. A fraction skips (1 - share) of every linear's weight gradient, taking the
trained share spread evenly over the linear weights. QLoRA's dequantisation is memory traffic,
not FLOPs, and is not timed.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.contracts.plan import TrainedSummary
from planner.contracts.probe import LinearGroup, ProbeReport, TracedMode
from planner.contracts.trainable import ALL_LINEAR, TrainableSpec, parse_trainable
from planner.errors import BadInput

NF4_BYTES = 0.5  # 4-bit NF4 weight
NF4_CONSTANT_BITS = 0.127  # double-quantised absmax per weight, blocksize 64 (Dettmers et al. 2023, section 3)
QLORA_BYTES_PER_WEIGHT = NF4_BYTES + NF4_CONSTANT_BITS / 8  # 0.5159 B


@dataclass(frozen=True)
class Trained:
    """The parameters a non-full spec trains and what its frozen base costs to store and run."""

    spec: TrainableSpec
    base_params: int
    trained_params: int  # what the optimizer updates: the adapters, or the share
    frozen_params: int
    frozen_bytes: float  # the frozen weights at their storage dtype, unsharded
    dequant_bytes: float  # QLoRA: one linear's weight dequantised to the compute dtype, in flight
    adapter_flops_per_token: float  # forward: 2r(in + out) summed over the adapted layers
    skipped_flops_per_token: float  # weight-gradient matmuls of the frozen weights not run
    adapted: tuple[str, ...]  # the linear groups that carry adapters
    adapter_tensors: int = 0  # A and B per adapted layer: more kernels per step (the host-time prior)

    @property
    def params(self) -> int:
        """Every parameter of the model as trained: the base and its adapters."""
        return self.frozen_params + self.trained_params


def weight_bytes(precision: str) -> float:
    """Bytes of a frozen weight: the compute dtype (bf16/fp16 2 B, fp32 4 B)."""
    return 4.0 if precision == "fp32" else 2.0


def resolve(text: str, report: ProbeReport, precision: str) -> Trained | None:
    """The non-full spec `text` against the report's model; None for a full fine-tune."""
    spec = parse_trainable(text)
    if spec.kind == "full":
        return None
    linears = _linears(spec, report)
    dtype = weight_bytes(precision)
    base = report.model.params
    body = [g for g in linears if not g.head]
    all_weights = sum(g.in_features * g.out_features * g.count for g in linears)
    if spec.kind == "fraction":
        assert spec.fraction is not None
        trained = max(1, round(spec.fraction * base))
        return Trained(spec, base, trained, base - trained, (base - trained) * dtype, 0.0, 0.0,
                       (1 - spec.fraction) * 2.0 * all_weights, ())
    assert spec.rank is not None
    adapted = _adapted(spec, linears)
    adapters = sum(spec.rank * (g.in_features + g.out_features) * g.count for g in adapted)
    frozen_bytes, dequant = base * dtype, 0.0
    if spec.kind == "qlora":
        quantized = sum(g.in_features * g.out_features * g.count for g in body)
        frozen_bytes = quantized * QLORA_BYTES_PER_WEIGHT + (base - quantized) * dtype
        dequant = max((g.in_features * g.out_features for g in body), default=0) * dtype
    return Trained(spec, base, adapters, base, frozen_bytes, dequant,
                   adapter_flops_per_token=2.0 * sum(spec.rank * (g.in_features + g.out_features) * g.count
                                                     for g in adapted),
                   skipped_flops_per_token=2.0 * all_weights, adapted=tuple(g.name for g in adapted),
                   adapter_tensors=2 * sum(g.count for g in adapted))


def _linears(spec: TrainableSpec, report: ProbeReport) -> list[LinearGroup]:
    trace = report.trace
    if trace is None:
        raise BadInput(f"--trainable {spec.text()}: a measured probe trained every parameter and its memory fit "
                       "holds that; trace the model (--model-config, or --trace-only for a preset) to plan it")
    if not trace.linears:
        raise BadInput(f"--trainable {spec.text()}: this trace has no linear layer shapes (traced before probe "
                       "schema 5); trace it again with `batchfit probe --model-config ...` or --trace-only")
    return trace.linears


def _matches(group: LinearGroup, target: str) -> bool:
    return target in (group.leaf, group.name) or group.leaf == f"{target}_proj"


def _adapted(spec: TrainableSpec, linears: list[LinearGroup]) -> list[LinearGroup]:
    """The groups the targets name; all-linear is every one but the output head (peft's rule)."""
    if spec.targets == (ALL_LINEAR,):
        return [g for g in linears if not g.head]
    missing = [t for t in spec.targets if not any(_matches(g, t) for g in linears)]
    if missing:
        names = ", ".join(dict.fromkeys(g.leaf for g in linears))
        raise BadInput(f"--trainable {spec.text()}: no linear layer is named {', '.join(missing)} (or "
                       f"{missing[0]}_proj); the model's are {names}, or give targets=all-linear")
    return [g for g in linears if any(_matches(g, t) for t in spec.targets)]


def step_flops(trained: Trained, mode: TracedMode, seq_len: int) -> float:
    """FLOPs per sample of a step with the frozen weight gradients skipped (see the module doc)."""
    k = 4.0 if mode.checkpointing == "full" else 3.0
    return (mode.flops_per_sample - seq_len * trained.skipped_flops_per_token
            + k * seq_len * trained.adapter_flops_per_token)


def summary(trained: Trained | None, report: ProbeReport, precision: str) -> TrainedSummary:
    """What the plan trains, for every view."""
    if trained is None:
        params = report.model.params
        return TrainedSummary(spec="full", trained_params=report.model.trainable_params,
                              frozen_params=params - report.model.trainable_params, frozen_bytes=0.0,
                              explanation="every parameter trained: fp32 master weights, gradients and optimizer "
                                          "state for each")
    spec = trained.spec
    share = trained.trained_params / trained.params
    if spec.adapters:
        assert spec.rank is not None
        if spec.kind == "qlora":
            stored = (f"4-bit NF4 linears at {QLORA_BYTES_PER_WEIGHT:.3f} B/weight (0.5 B + {NF4_CONSTANT_BITS} bits "
                      "of double-quantised constants, Dettmers et al. 2023), the embedding, head and norms at "
                      f"{weight_bytes(precision):g} B")
        else:
            stored = f"at {weight_bytes(precision):g} B/param ({precision}), no fp32 master"
        what = (f"{spec.describe()}: r x (in + out) = {trained.trained_params:,} adapter parameters on "
                f"{len(trained.adapted)} linear groups ({share:.2%} of {trained.params:,}); the frozen base "
                f"{stored}; backward skips its weight gradients")
    else:
        what = (f"{spec.describe()}: {trained.trained_params:,} of {trained.params:,} parameters; the frozen "
                f"ones at {weight_bytes(precision):g} B/param, no gradient or optimizer state; (1 - share) of "
                "every linear's weight gradient skipped")
    return TrainedSummary(spec=spec.text(), trained_params=trained.trained_params,
                          frozen_params=trained.frozen_params, frozen_bytes=trained.frozen_bytes, explanation=what)


def assumptions(trained: Trained | None) -> list[str]:
    """The plan's assumptions a non-full fine-tune adds."""
    if trained is None:
        return []
    out = ["trainable: gradients, fp32 masters and optimizer state for the trained parameters only; frozen weights "
           "stored once at their storage dtype (sharded under fsdp); activations as traced (a frozen linear still "
           "saves its input, for the adapter's and the input's gradients)",
           "trainable FLOPs: the frozen weights' weight-gradient matmuls skipped (2 x in x out per token each)"
           + (", the adapters' 2r(in + out) per token x 3 (x 4 under full checkpointing) added"
              if trained.spec.adapters else "")]
    if trained.spec.kind == "qlora":
        out.append("QLoRA: one layer's weight dequantised to the compute dtype is counted in the buffers; the time "
                   "to dequantise the 4-bit weights before each matmul (memory traffic, not FLOPs) is not modelled")
    return out

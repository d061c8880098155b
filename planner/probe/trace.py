"""The traced probe: a model too big to run here, measured on fake tensors without a real step.

For a Hugging Face config (planner/models/hf.py) it reports parameters, FLOPs per sample at the
sequence length (FlopCounterMode) and activation bytes per sample (the live-storage count of
memtrace.LiveBytes) for a forward + backward under no, selective and full activation
checkpointing, plus the optimizer state for the optimizer and precision. Nothing is allocated:
the model is built on the meta device and its weights become FakeTensors.

Decoder stacks repeat one layer, so the step is traced at depths 1 and 2 and batches 1 and 2
and extrapolated linearly to the config's depth: per-layer and per-sample figures are the
differences. A stack whose layers differ (in class or size) is traced at its full depth. Each
parameter's gradient is dropped as soon as it is made: gradients, like weights and optimizer
state, are the layout's business (planner/plan/parallel.py), not the activations'.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils.checkpoint import (
    CheckpointPolicy,
    create_selective_checkpoint_contexts,
)
from torch.utils.flop_counter import FlopCounterMode

from planner.contracts.layout import CHECKPOINTING, Checkpointing
from planner.contracts.probe import (
    DataInfo,
    DeviceInfo,
    MemoryFit,
    ModelInfo,
    ModelTrace,
    ProbeReport,
    ProbeSettings,
    TracedMode,
)
from planner.contracts.request import OptimizerFamily, Precision
from planner.errors import BadInput
from planner.models import hf
from planner.plan import parallel
from planner.probe.device import software_info
from planner.probe.fake import fake_mode
from planner.probe.linears import linear_groups
from planner.probe.flops import _ATTENTION
from planner.probe.memtrace import LiveBytes

_aten = torch.ops.aten
# Selective checkpointing keeps what is expensive to recompute: matmuls and attention.
_SAVED_OPS = {_aten.mm.default, _aten.addmm.default, _aten.bmm.default,
              _aten._scaled_dot_product_flash_attention_for_cpu.default,
              _aten._scaled_dot_product_efficient_attention.default,
              _aten._scaled_dot_product_flash_attention.default}
TRACE_BATCHES = (1, 2)
TRACE_DEPTHS = (1, 2)


@dataclass(frozen=True)
class StepTrace:
    flops: float
    activation_bytes: float  # peak live bytes above the weights and the batch
    attention_flops: float  # the part of flops in scaled_dot_product attention


class ExactLiveBytes(LiveBytes):
    """LiveBytes that forgets dead storages after every op rather than only at a claimed peak,
    so the live count is exact after each op (a trace is short: the sweeps cost little)."""

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = super().__torch_dispatch__(func, types, args, kwargs)
        self._forget_dead()
        return out


def _policy(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> CheckpointPolicy:
    return CheckpointPolicy.MUST_SAVE if op in _SAVED_OPS else CheckpointPolicy.PREFER_RECOMPUTE


def fake_weights(model: nn.Module, mode: FakeTensorMode) -> None:
    """Swap every meta parameter and buffer for a FakeTensor on the CPU, ties kept."""
    made: dict[int, torch.Tensor] = {}
    with mode:
        for module in model.modules():
            for name, p in list(module._parameters.items()):
                if p is not None:
                    if id(p) not in made:
                        made[id(p)] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device="cpu"),
                                                   requires_grad=p.requires_grad)
                    module._parameters[name] = made[id(p)]  # type: ignore[assignment]  # a Parameter, made above
            for name, b in list(module._buffers.items()):
                if b is not None:
                    if id(b) not in made:
                        made[id(b)] = torch.empty(b.shape, dtype=b.dtype, device="cpu")
                    module._buffers[name] = made[id(b)]


def set_checkpointing(model: nn.Module, checkpointing: Checkpointing) -> None:
    """HF's gradient checkpointing per decoder layer; selective adds an op policy to it."""
    if checkpointing == "none":
        return
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise BadInput(f"{type(model).__name__} does not support activation checkpointing in transformers")
    kwargs: dict[str, Any] = {"use_reentrant": False}
    if checkpointing == "selective":
        kwargs["context_fn"] = partial(create_selective_checkpoint_contexts, _policy)
    hf_model: Any = model  # a PreTrainedModel, which has the method
    hf_model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


@contextmanager
def _drop_grads(model: nn.Module) -> Iterator[None]:
    """Each gradient freed as soon as it is accumulated (gradients are counted by the layout)."""
    handles = [p.register_post_accumulate_grad_hook(lambda p: setattr(p, "grad", None))
               for p in model.parameters() if p.requires_grad]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _unpacked_sequences() -> Iterator[None]:
    """Each traced sample is one whole sequence, as in the real run. transformers looks for packed
    sequences in the position ids, and on fake tensors cannot read them, so it would build an
    explicit mask and attention would run (and be counted) non-causal; say there are none."""
    masking: Any = importlib.import_module("transformers.masking_utils")
    find = masking.find_packed_sequence_indices
    masking.find_packed_sequence_indices = lambda position_ids: None
    try:
        yield
    finally:
        masking.find_packed_sequence_indices = find


def trace_step(model: nn.Module, mode: FakeTensorMode, batch: int, seq_len: int) -> StepTrace:
    """FLOPs and peak activation bytes of one forward + backward of a fake-weighted causal LM.

    Two passes: FlopCounterMode hooks every module's outputs to follow backward, which keeps a
    checkpointed layer's intermediates alive, so the memory is counted on a pass without it.
    """
    model.train()
    with mode, _unpacked_sequences():
        ids = torch.zeros(batch, seq_len, dtype=torch.long)
        counter = FlopCounterMode(display=False, custom_mapping=_ATTENTION)
        with _drop_grads(model), counter:
            model(input_ids=ids, labels=ids).loss.backward()
        resident = [*model.parameters(), *model.buffers(), ids]
        with _drop_grads(model), ExactLiveBytes(resident) as live:
            base = live.current
            model(input_ids=ids, labels=ids).loss.backward()
    by_op = counter.get_flop_counts().get("Global", {})
    attention = sum(n for op, n in by_op.items() if "scaled_dot_product" in str(op))
    return StepTrace(flops=float(counter.get_total_flops()), activation_bytes=float(live.peak - base),
                     attention_flops=float(attention))


def _traced_model(config: Any, dtype: torch.dtype, checkpointing: Checkpointing) -> tuple[nn.Module, FakeTensorMode]:
    model = hf.build_meta_model(config, dtype)
    set_checkpointing(model, checkpointing)
    mode = fake_mode()
    fake_weights(model, mode)
    return model, mode


def trace_mode(config: Any, seq_len: int, dtype: torch.dtype, checkpointing: Checkpointing,
               depths: tuple[int, ...], layers: int) -> TracedMode:
    """One checkpointing mode: traced at each depth x batch, extrapolated to `layers` layers.

    With figures q(d, b) at two depths and two batches: per sample s(d) = q(d, 2) - q(d, 1),
    fixed c(d) = q(d, 1) - s(d); each grows by its depth-2-minus-depth-1 difference per layer.
    """
    traces: dict[tuple[int, int], StepTrace] = {}
    for d in depths:
        model, mode = _traced_model(hf.with_depth(config, d), dtype, checkpointing)
        for b in TRACE_BATCHES:
            traces[(d, b)] = trace_step(model, mode, b, seq_len)

    def at_depth(d: int, field: str) -> tuple[float, float]:
        one, two = (getattr(traces[(d, b)], field) for b in TRACE_BATCHES)
        return two - one, one - (two - one)  # (per sample, fixed)

    def extrapolate(field: str) -> tuple[float, float]:
        if len(depths) == 1:
            return at_depth(depths[0], field)
        (s1, c1), (s2, c2) = at_depth(depths[0], field), at_depth(depths[1], field)
        extra = (layers - depths[0]) / (depths[1] - depths[0])
        return s1 + extra * (s2 - s1), c1 + extra * (c2 - c1)

    flops, _ = extrapolate("flops")
    attention, _ = extrapolate("attention_flops")
    activation, transient = extrapolate("activation_bytes")
    return TracedMode(checkpointing=checkpointing, flops_per_sample=flops, attention_flops_per_sample=attention,
                      activation_bytes_per_sample=activation, transient_bytes=max(0.0, transient))


def trace_config(source: str, seq_len: int | None, precision: Precision = "bf16",
                 optimizer: OptimizerFamily = "adamw",
                 modes: tuple[Checkpointing, ...] = CHECKPOINTING) -> ProbeReport:
    """The traced ProbeReport of a Hugging Face config (a config.json path or hf:<id>)."""
    start = time.perf_counter()
    config = hf.load_config(source)
    limit = hf.config_seq_len(config)
    seq = seq_len or limit
    if seq is None:
        raise BadInput(f"{source} names no maximum sequence length; give --seq-len")
    if limit is not None and seq > limit:
        raise BadInput(f"--seq-len {seq} exceeds the config's max_position_embeddings {limit}; give at most {limit}")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    full = hf.build_meta_model(config, dtype)
    units = hf.units(full)
    params = sum(p.numel() for p in full.parameters())
    trainable = sum(p.numel() for p in full.parameters() if p.requires_grad)
    tensors = sum(1 for _ in full.parameters())
    layers = len(units.layer_params)
    linears = linear_groups(full)
    del full
    depths = TRACE_DEPTHS if units.homogeneous and layers > max(TRACE_DEPTHS) else (layers,)
    traced = [trace_mode(config, seq, dtype, m, depths, layers) for m in modes]
    if depths == (layers,):
        method = f"fake-tensor trace at the full depth {layers}, batches {TRACE_BATCHES}"
    else:
        method = (f"fake-tensor trace at depths {depths} and batches {TRACE_BATCHES}, "
                  f"extrapolated linearly to {layers} identical layers")
    state_bytes = int(parallel.OPTIMIZER_STATE_BYTES[optimizer] * trainable)
    trace = ModelTrace(source=source, method=method, compute_dtype=precision, layers=layers, units=units.count,
                       largest_unit_params=units.largest_params, root_params=units.root_params, optimizer=optimizer,
                       optimizer_state_bytes=state_bytes, seconds=time.perf_counter() - start, modes=traced,
                       linears=linears)
    none = trace.mode("none") or trace.modes[0]
    model = ModelInfo(id=hf.config_id(source, config), params=params, trainable_params=trainable,
                      param_tensors=tensors, seq_len=seq, flops_per_sample=none.flops_per_sample,
                      flops_provenance="traced", attention_flops_per_sample=none.attention_flops_per_sample,
                      data=DataInfo(kind="synthetic", source=f"token ids, {seq} per sample (traced, no data read)"))
    return traced_report(model, precision, trace, [
        f"{source} was traced, not run: step times come from the FLOPs and stated priors, "
        "memory from the trace and the layout's formulas"])


def traced_report(model: ModelInfo, precision: Precision, trace: ModelTrace, warnings: list[str]) -> ProbeReport:
    """A report with no measured point: every figure `traced`, the memory line the single-GPU one.
    Shared by Hugging Face configs and by presets or factories traced instead of run (trace_bundle.py)."""
    none = trace.mode("none") or trace.modes[0]
    params, trainable = model.params, model.trainable_params
    # The report's own memory line is one GPU's, no layout: weights, gradients, optimizer state.
    states = parallel.state_memory(parallel.ModelStates(
        params=params, trainable=trainable, optimizer_bytes=trace.optimizer_state_bytes,
        compute_copy_bytes=2.0 if precision == "bf16" else 0.0, largest_unit_params=trace.largest_unit_params,
        root_params=trace.root_params), "ddp", 1)
    static = states.total + none.transient_bytes
    return ProbeReport(
        created_at=dt.datetime.now(dt.UTC),
        device=DeviceInfo(kind="cpu", name="traced (no device ran the model)", memory_bytes=None,
                          memory_source="unknown"),
        software=software_info(),
        model=model,
        settings=ProbeSettings(precision=precision, kernels="torch", optimizer=trace.optimizer, max_batch=None,
                               time_limit_s=0.0, memory_cap_bytes=None, warmup_steps=0, timed_steps=0,
                               plateau_gain=0.0),
        points=[],
        stop_reason="traced: the model was not run, no step was timed",
        memory_fit=MemoryFit(static_bytes=static, per_sample_bytes=none.activation_bytes_per_sample,
                             points_used=0, max_relative_residual=0.0, provenance="traced"),
        trace=trace,
        warnings=warnings,
    )

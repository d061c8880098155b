"""A preset or factory model traced instead of run: `--trace-only`, or a model too big for the memory.

The model-agnostic half of the traced probe (trace.py holds the Hugging Face half). The bundle's
own model and batch maker are traced on fake tensors at full depth (presets are small: nothing
is extrapolated): FLOPs per sample by the same counter the sweep uses (flops.py), and the peak of
a steady-state training step at batches 1 and 2 by the same trace that predicts a sweep point
(memtrace.py). Per sample is the difference; the rest, beyond weights, gradients and optimizer
state, is the step's batch-independent transient.
"""

from __future__ import annotations

import time

import torch

from planner.contracts.probe import DataInfo, ModelInfo, ModelTrace, ProbeReport, TracedMode
from planner.contracts.probe_config import ProbeConfig
from planner.errors import BadInput
from planner.models import hf
from planner.models.bundle import ModelBundle
from planner.models.registry import load_model
from planner.plan import parallel
from planner.probe.flops import count_flops
from planner.probe.memtrace import predict_step_peak
from planner.probe.step import optimizer_choice
from planner.probe.linears import linear_groups
from planner.probe.trace import TRACE_BATCHES, traced_report

# The probe's optimizer is AdamW (step.py): fp32 exp_avg and exp_avg_sq per trainable parameter.
OPTIMIZER = "adamw"


def state_bytes(bundle: ModelBundle) -> int:
    """Bytes of fp32 weights, gradients and AdamW state of the bundle's model: the floor of any step."""
    params = {id(p): p for p in bundle.model.parameters()}.values()
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return int(parallel.MASTER_BYTES * total
               + (parallel.GRAD_BYTES + parallel.OPTIMIZER_STATE_BYTES[OPTIMIZER]) * trainable)


def _units(model: torch.nn.Module, params: int) -> hf.Units:
    """The layer stack when the model has one; else the whole model is one unit."""
    try:
        return hf.units(model)
    except BadInput:
        return hf.Units(count=1, largest_params=max(1, params), layer_params=(params,),
                        layer_kinds=(type(model).__name__,), root_params=0)


def trace_bundle(config: ProbeConfig, why: str, bundle: ModelBundle | None = None) -> ProbeReport:
    """The traced ProbeReport of `config.model` (loaded unless `bundle` is given); `why` it was
    traced goes into the report's warnings."""
    start = time.perf_counter()
    if bundle is None:
        bundle = load_model(config.model, seq_len=config.seq_len, checkpointing=config.checkpointing,
                            data=config.data)
    cpu = torch.device("cpu")  # shapes only: a fake-tensor trace needs no device
    params_by_id = {id(p): p for p in bundle.model.parameters()}.values()
    params = sum(p.numel() for p in params_by_id)
    trainable = sum(p.numel() for p in params_by_id if p.requires_grad)
    flops = count_flops(bundle, cpu)
    one, two = (predict_step_peak(bundle, b, cpu, config.precision, "torch") for b in TRACE_BATCHES)
    per_sample = float(two - one)
    units = _units(bundle.model, params)
    optimizer_bytes = int(parallel.OPTIMIZER_STATE_BYTES[OPTIMIZER] * trainable)
    states = parallel.state_memory(parallel.ModelStates(
        params=params, trainable=trainable, optimizer_bytes=optimizer_bytes,
        compute_copy_bytes=2.0 if config.precision == "bf16" else 0.0,
        largest_unit_params=units.largest_params, root_params=units.root_params), "ddp", 1)
    transient = max(0.0, one - per_sample - states.total)
    mode = TracedMode(checkpointing="full" if config.checkpointing else "none",
                      flops_per_sample=flops.per_sample, attention_flops_per_sample=flops.attention_per_sample,
                      activation_bytes_per_sample=per_sample,
                      transient_bytes=transient)
    trace = ModelTrace(
        source=config.model, compute_dtype=config.precision, layers=len(units.layer_params), units=units.count,
        method=f"fake-tensor trace of the training step at the full depth, batches {TRACE_BATCHES}",
        largest_unit_params=units.largest_params, root_params=units.root_params,
        optimizer=optimizer_choice(cpu, "torch")[1], optimizer_state_bytes=optimizer_bytes,
        seconds=time.perf_counter() - start, modes=[mode], linears=linear_groups(bundle.model))
    model = ModelInfo(id=bundle.id, params=params, trainable_params=trainable, param_tensors=len(params_by_id),
                      seq_len=bundle.seq_len, flops_per_sample=flops.per_sample, flops_provenance="traced",
                      conv_flops_fraction=flops.conv_share, attention_flops_per_sample=flops.attention_per_sample,
                      data=DataInfo(kind=bundle.data_kind, source=f"{bundle.data_source} (traced, no data read)"))
    return traced_report(model, config.precision, trace, [
        f"{bundle.id} was traced, not run ({why}): step times come from the FLOPs and stated priors, "
        "memory from the trace"])

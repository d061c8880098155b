"""`batchfit probe`: sweep batch sizes of a model on this machine and save the ProbeReport.

torch is imported only when a probe runs, so `plan --from-probe` never loads it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from planner.cli.flags import add_flags, flag_names, given
from planner.cli.out_path import check_writable, out_lock
from planner.contracts.probe import NoiseScale, ProbeReport
from planner.contracts.probe_config import ProbeConfig, ProbeEvent
from planner import interrupts
from planner.errors import BadInput, Interrupted, ProbeFailed
from planner.report_file import save_probe_report


def add_probe_arguments(p: argparse.ArgumentParser, model_group: argparse._MutuallyExclusiveGroup | None = None) -> None:
    """ProbeConfig's flags (declared on its fields); --model (and --model-config, a model the
    probe traces instead of running) into model_group when given."""
    group = model_group or p.add_mutually_exclusive_group()
    add_flags(p, ProbeConfig, target={"model": group})
    group.add_argument("--model-config", metavar="PATH",
                       help="a Hugging Face config.json to trace on the meta device, offline; or give --model hf:ID "
                            "(both need batchfit[hf])")


# ProbeConfig fields a traced model uses; every other probe setting is for a model that runs.
TRACED_SETTINGS = {"model", "seq_len", "precision", "device"}


def traced_source(args: argparse.Namespace) -> str | None:
    """The Hugging Face config to trace (`--model-config PATH` or `--model hf:ID`), if that is the model."""
    if getattr(args, "model_config", None):
        return str(args.model_config)
    if args.model and str(args.model).startswith("hf:"):
        return str(args.model)
    return None


def trace_from_args(args: argparse.Namespace, source: str) -> ProbeReport:
    """The traced probe of a Hugging Face config: no step runs, so the sweep's settings do not apply."""
    from planner.probe.trace import trace_config

    flags = flag_names(ProbeConfig)
    refused = [flags[name] for name in given(args, ProbeConfig) if name not in TRACED_SETTINGS]
    if refused:
        raise BadInput(f"{', '.join(refused)} apply to a probe that runs; {source} is traced "
                       "(the plan weighs no/selective/full activation checkpointing itself: --recompute)")
    sys.stderr.write(f"probe: tracing {source} on fake tensors (no weights, no step)\n")
    report = trace_config(source, args.seq_len, precision=args.precision or "bf16",
                          optimizer=getattr(args, "optimizer", None) or "adamw")
    assert report.trace is not None
    sys.stderr.write(f"probe: traced {report.model.params / 1e6:,.1f} M params in {report.trace.seconds:.1f} s\n")
    out = Path(args.out) if getattr(args, "out", None) else None
    if out:
        save_probe_report(report, out)
        sys.stderr.write(f"probe: report saved to {out}\n")
    return report


def _print_event(event: ProbeEvent) -> None:
    kind, text, point = event.kind, event.text, event.point
    if kind == "point-done" and point is not None:
        if point.status == "ok":
            text = (f"batch {point.batch_size:>5}: {(point.step_time_s or 0) * 1e3:9.1f} ms/step, "
                    f"{point.samples_per_s or 0:10.1f} samples/s, peak {(point.peak_memory_bytes or 0) / 2**20:,.0f} MiB")
        else:
            text = f"batch {point.batch_size:>5}: {point.status} ({point.reason})"
    if kind == "done":
        text = f"stopped: {text}"
    if text and kind != "point-started":
        sys.stderr.write(f"probe: {text}\n")


def probe_from_args(args: argparse.Namespace, noise_lr: float | None = None,
                    reference_batch: int | None = None, allow_partial: bool = False) -> ProbeReport:
    """Run the sweep the flags describe; progress goes to stderr, the report is saved if --out.
    noise_lr: the noise steps' lr when --noise-lr is not given (planning passes the reference's);
    reference_batch: the reference run's batch, which caps the noise steps' B_small.
    An interrupted probe (Ctrl-C, SIGTERM) is saved, then raises Interrupted unless allow_partial.
    A Hugging Face config is traced instead (planner/probe/trace.py)."""
    began = time.perf_counter()  # the time limit counts from here: importing torch and building the model count
    source = traced_source(args)
    if source is not None:
        return trace_from_args(args, source)
    from planner.probe import run_probe

    out = Path(args.out) if getattr(args, "out", None) else None
    settings = given(args, ProbeConfig) | {
        "precision": args.precision or ("fp32" if args.device == "cpu" else _auto_precision()),
        "log_path": out.with_name(out.name + ".points.jsonl") if out else None,
        "noise_reference_batch": reference_batch,
    }
    if args.noise_lr is None and noise_lr is not None:
        settings["noise_lr"] = noise_lr
    try:
        config = ProbeConfig.model_validate(settings)
    except ValidationError as exc:
        raise BadInput(_flag_error(exc)) from None
    if out is None:
        report = run_probe(config, on_event=_print_event, began=began)
    else:
        check_writable(out)
        with out_lock(out):
            report = run_probe(config, on_event=_print_event, began=began)
            save_probe_report(report, out)
        sys.stderr.write(f"probe: report saved to {out}\n")
    sys.stderr.write(f"probe: took {time.perf_counter() - began:.1f} s of the {config.time_limit_s:g} s time limit\n")
    for warning in report.warnings:  # e.g. --kernels triton on a CPU runs the torch references
        sys.stderr.write(f"probe: warning: {warning}\n")
    if report.interrupted and not allow_partial:
        raise Interrupted(partial_summary(report, out) + "; add --allow-partial to plan from them",
                          interrupts.exit_code())
    if not report.ok_points() and report.trace is None:
        raise ProbeFailed(f"no batch size ran ({report.stop_reason}); see the points above")
    return report


def partial_summary(report: ProbeReport, out: Path | None) -> str:
    """One line: what an interrupted probe measured and where it is."""
    sizes = [p.batch_size for p in report.ok_points()]
    measured = f"{len(sizes)} batch size(s) measured ({', '.join(map(str, sizes))})" if sizes else "nothing measured"
    saved = f"saved to {out}, `--resume` continues it" if out else "not saved (give --out to keep it)"
    return f"probe interrupted ({interrupts.name()}): {measured}, {saved}"


def _flag_error(exc: ValidationError) -> str:
    """pydantic's first complaint about the settings, in the flags' names."""
    flags = flag_names(ProbeConfig) | {"log_path": "--out"}
    error = exc.errors()[0]
    message = error["msg"].removeprefix("Value error, ")
    for name in sorted(flags, key=len, reverse=True):  # noise_train_steps before noise_steps
        message = message.replace(name, flags[name])
    where = flags.get(str(error["loc"][0]), str(error["loc"][0])) if error["loc"] else "probe settings"
    return f"{where}: {message}"


def _auto_precision() -> str:
    import torch

    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"  # T4, V100: no bf16


def run(args: argparse.Namespace) -> int:
    if not args.model and not args.model_config:
        raise BadInput("no model: give --model NAME (see `batchfit probe --help`), pkg.module:factory, "
                       "hf:ID or --model-config config.json")
    report = probe_from_args(args, allow_partial=True)
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        if report.trace is not None:
            sys.stdout.write(_traced_summary(report))
            return 0
        best = report.best_point()
        sys.stdout.write(f"{report.model.id} on {report.device.name}: stopped ({report.stop_reason}); ")
        sys.stdout.write(f"best {best.samples_per_s:,.1f} samples/s at batch {best.batch_size}\n" if best else "no point\n")
        for line in _extras(report):
            sys.stdout.write(line + "\n")
    if report.interrupted:
        out = Path(args.out) if args.out else None
        sys.stderr.write(f"batchfit: {partial_summary(report, out)}\n")
        return interrupts.exit_code()
    return 0


def _traced_summary(report: ProbeReport) -> str:
    trace = report.trace
    assert trace is not None
    lines = [f"{report.model.id}: {report.model.params / 1e6:,.1f} M params traced at seq {report.model.seq_len} "
             f"({trace.method}; {trace.seconds:.1f} s)"]
    for m in trace.modes:
        lines.append(f"  {m.checkpointing:>9} checkpointing: {m.flops_per_sample:.3g} FLOPs/sample"
                     f"{_attention_part(m.flops_per_sample, m.attention_flops_per_sample)}, activations {m.activation_bytes_per_sample / 1e9:,.2f} GB/sample (traced)")
    return "\n".join(lines) + "\n"


def _attention_part(total: float, attention: float | None) -> str:
    """' (attention X, matmuls and the rest)', or nothing when attention was not counted."""
    if attention is None or total <= 0:
        return ""
    return f" (attention {attention:.3g}, {attention / total:.1%}; matmuls and the rest {total - attention:.3g})"


def _extras(report: ProbeReport) -> list[str]:
    """Summary lines for the FLOP count, the noise scale and the DDP probe, when they ran."""
    from planner.probe.noise import band_text, format_batch

    lines = []
    model = report.model
    if model.flops_per_sample:
        lines.append(f"FLOPs/sample (forward + backward): {model.flops_per_sample:.3g}"
                     f"{_attention_part(model.flops_per_sample, model.attention_flops_per_sample)}")
    ddp_noise = report.ddp.noise_scale if report.ddp else None
    for label, noise in (("noise scale", report.noise_scale), ("DDP noise scale", ddp_noise)):
        if noise:
            lines.append(f"{label}: B_simple ≈ {format_batch(noise.b_simple)} ({band_text(noise.low, noise.high)}), "
                         f"B_small={noise.b_small}, B_big={noise.b_big}, {noise.steps} steps{_when(noise)}")
            if noise.preconditioned:
                pre = noise.preconditioned
                lines.append(f"{label}, Adam-preconditioned: B_simple ≈ {format_batch(pre.b_simple)} "
                             f"({band_text(pre.low, pre.high)}), {pre.steps} steps")
    if report.ddp:
        ddp = report.ddp
        efficiency = f"{ddp.scaling_efficiency:.0%}" if ddp.scaling_efficiency is not None else "n/a"
        lines.append(f"DDP x{ddp.world_size} ({ddp.backend}): all-reduce {ddp.allreduce_s * 1e3:.1f} ms "
                     f"({ddp.bus_bandwidth_gbs:.2f} GB/s bus), scaling efficiency {efficiency}")
    return lines


def _when(noise: NoiseScale) -> str:
    """Where in training it was read: the noise scale grows as the loss falls."""
    parts = [f"after {noise.trained_steps} training steps"] if noise.trained_steps else ["from initialisation"]
    if noise.train_loss is not None:
        parts.append(f"at loss {noise.train_loss:.4g}")
    if noise.lr is not None:
        parts.append(f"lr {noise.lr:g}")
    return ", " + ", ".join(parts)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="measure throughput and memory over batch sizes on this machine")
    add_probe_arguments(p)
    p.add_argument("--out", metavar="FILE", help="save the ProbeReport here (and a .points.jsonl log beside it)")
    p.add_argument("--json", action="store_true", help="print only the report JSON on stdout")
    p.set_defaults(run=run)

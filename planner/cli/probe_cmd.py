"""`batchfit probe`: sweep batch sizes of a model on this machine and save the ProbeReport.

torch is imported only when a probe runs, so `plan --from-probe` never loads it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from planner.cli.arg_types import at_least_zero, positive
from planner.contracts.probe import NoiseScale, ProbeReport
from planner.errors import BadInput, ProbeFailed
from planner.report_file import save_probe_report

# ProbeConfig field -> the flag that sets it, for error messages in the user's terms.
FLAGS = {
    "seq_len": "--seq-len", "max_batch": "--max-batch", "start_batch": "--max-batch", "time_limit_s": "--time-limit",
    "plateau_gain": "--plateau-gain", "memory_cap_bytes": "--memory-cap", "noise_train_steps": "--noise-train-steps",
    "noise_target_loss": "--noise-target-loss", "noise_steps": "--noise-steps", "noise_lr": "--noise-lr",
    "nproc": "--nproc", "log_path": "--out", "resume": "--resume",
}


def add_probe_arguments(p: argparse.ArgumentParser, model_group: argparse._MutuallyExclusiveGroup | None = None) -> None:
    (model_group or p).add_argument("--model", metavar="NAME|pkg.mod:factory",
                                    help="a preset (mlp, gpt-tiny, gpt2-small, resnet50, ...) or your factory")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--precision", choices=["fp32", "bf16"], default=None,
                   help="bf16 = autocast (default: fp32 on a CPU, bf16 on CUDA)")
    p.add_argument("--kernels", choices=["torch", "triton"], default="torch",
                   help="optimizer and collate: torch's or batchfit's fused Triton kernels")
    p.add_argument("--seq-len", type=positive(int, "--seq-len"), default=None, help="tokens per sample (sequence presets)")
    p.add_argument("--data", metavar="PATH", help=".npy/.pt token ids for the GPT presets")
    p.add_argument("--checkpointing", action="store_true", help="activation checkpointing (transformers)")
    p.add_argument("--max-batch", type=positive(int, "--max-batch"), default=None, help="largest batch to try")
    p.add_argument("--time-limit", type=positive(float, "--time-limit"), default=120.0,
                   help="seconds for the whole probe, sweep and noise steps")
    p.add_argument("--plateau-gain", type=float, default=0.05,
                   help="stop once doubling the batch gains less than this fraction of throughput (-1: never)")
    p.add_argument("--memory-cap", type=positive(float, "--memory-cap"), default=None, metavar="GB",
                   help="CPU only: memory that stands in for a device's (default: half the RAM, at most 8 GiB)")
    p.add_argument("--isolate", action="store_true", help="run each point in its own subprocess")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep from its log")
    p.add_argument("--noise-steps", type=at_least_zero("--noise-steps"), default=0, metavar="N",
                   help="after the sweep, train N steps measuring the gradient noise scale (critical batch)")
    p.add_argument("--noise-train-steps", type=at_least_zero("--noise-train-steps"), default=0, metavar="N",
                   help="train up to N steps before measuring the noise scale, which grows as the loss falls")
    p.add_argument("--noise-target-loss", type=float, default=None, metavar="LOSS",
                   help="end that training once the training loss is at or below LOSS (your run's target)")
    p.add_argument("--noise-lr", type=positive(float, "--noise-lr"), default=None, metavar="LR",
                   help="learning rate of the noise steps (default: the reference run's when planning, else 1e-4)")
    p.add_argument("--nproc", type=positive(int, "--nproc"), default=1, metavar="N",
                   help="after the sweep, time the step under DDP on N local ranks (GPUs; gloo processes on a CPU)")


def _print_event(event: object) -> None:
    kind = getattr(event, "kind")
    text = getattr(event, "text")
    point = getattr(event, "point")
    if kind == "point-done" and point is not None:
        if point.status == "ok":
            text = (f"batch {point.batch_size:>5}: {point.step_time_s * 1e3:9.1f} ms/step, "
                    f"{point.samples_per_s:10.1f} samples/s, peak {(point.peak_memory_bytes or 0) / 2**20:,.0f} MiB")
        else:
            text = f"batch {point.batch_size:>5}: {point.status} ({point.reason})"
    if kind == "done":
        text = f"stopped: {text}"
    if text and kind != "point-started":
        sys.stderr.write(f"probe: {text}\n")


def probe_from_args(args: argparse.Namespace, noise_lr: float | None = None,
                    reference_batch: int | None = None) -> ProbeReport:
    """Run the sweep the flags describe; progress goes to stderr, the report is saved if --out.
    noise_lr: the noise steps' lr when --noise-lr is not given (planning passes the reference's);
    reference_batch: the reference run's batch, which caps the noise steps' B_small."""
    from planner.probe import ProbeConfig, run_probe

    out = Path(args.out) if getattr(args, "out", None) else None
    settings = {
        "model": args.model,
        "seq_len": args.seq_len,
        "checkpointing": args.checkpointing,
        "data": Path(args.data) if args.data else None,
        "device": args.device,
        "precision": args.precision or ("fp32" if args.device == "cpu" else _auto_precision()),
        "kernels": args.kernels,
        "max_batch": args.max_batch,
        "time_limit_s": args.time_limit,
        "plateau_gain": args.plateau_gain,
        "memory_cap_bytes": int(args.memory_cap * 1e9) if args.memory_cap else None,
        "log_path": out.with_name(out.name + ".points.jsonl") if out else None,
        "resume": args.resume,
        "isolate": args.isolate,
        "noise_steps": args.noise_steps,
        "noise_train_steps": args.noise_train_steps,
        "noise_target_loss": args.noise_target_loss,
        "noise_lr": args.noise_lr or noise_lr,
        "noise_reference_batch": reference_batch,
        "nproc": args.nproc,
    }
    try:
        config = ProbeConfig(**settings)
    except ValidationError as exc:
        raise BadInput(_flag_error(exc)) from None
    report = run_probe(config, on_event=_print_event)
    if out:
        save_probe_report(report, out)
        sys.stderr.write(f"probe: report saved to {out}\n")
    if not report.ok_points():
        raise ProbeFailed(f"no batch size ran ({report.stop_reason}); see the points above")
    return report


def _flag_error(exc: ValidationError) -> str:
    """pydantic's first complaint about the settings, in the flags' names."""
    error = exc.errors()[0]
    message = error["msg"].removeprefix("Value error, ")
    for name, flag in FLAGS.items():
        message = message.replace(name, flag)
    where = FLAGS.get(str(error["loc"][0]), str(error["loc"][0])) if error["loc"] else "probe settings"
    return f"{where}: {message}"


def _auto_precision() -> str:
    import torch

    return "bf16" if torch.cuda.is_available() else "fp32"


def run(args: argparse.Namespace) -> int:
    if not args.model:
        raise BadInput("no model: give --model NAME (see `batchfit probe --help`) or pkg.module:factory")
    report = probe_from_args(args)
    if args.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        best = report.best_point()
        sys.stdout.write(f"{report.model.id} on {report.device.name}: stopped ({report.stop_reason}); ")
        sys.stdout.write(f"best {best.samples_per_s:,.1f} samples/s at batch {best.batch_size}\n" if best else "no point\n")
        for line in _extras(report):
            sys.stdout.write(line + "\n")
    return 0


def _extras(report: ProbeReport) -> list[str]:
    """Summary lines for the noise scale and the DDP probe, when they ran."""
    from planner.probe.noise import band_text, format_batch

    lines = []
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

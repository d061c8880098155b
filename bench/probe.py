"""Run one probe sweep and print its summary table.

    .venv/bin/python bench/probe.py --model gpt-tiny
    .venv/bin/python bench/probe.py --model gpt2-small --device cuda --precision bf16 --kernels triton \
        --out bench/results/gpt2-small.json

Progress goes to stderr as points finish; the table (batch, step ms, samples/s, peak MiB,
status, MFU) to stdout. With --out the report is written there and every point is logged to
OUT.points.jsonl as it lands; --resume continues an interrupted sweep from that log.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner.contracts.probe import ProbeReport
from planner.errors import BatchfitError
from planner.probe import ProbeConfig, ProbeEvent, default_log_path, run_probe
from planner.report_file import save_probe_report

MIB = 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gpt-tiny", help="preset name or package.module:factory")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--kernels", choices=["torch", "triton"], default="torch")
    parser.add_argument("--max-batch", type=int, default=None)
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds for the whole sweep")
    parser.add_argument("--cap-mib", type=int, default=None, help="CPU memory cap, MiB (default: RAM/2, <= 8 GiB)")
    parser.add_argument("--isolate", action="store_true", help="each point in its own subprocess")
    parser.add_argument("--out", type=Path, default=None, help="write the ProbeReport JSON here")
    parser.add_argument("--resume", action="store_true", help="reuse the points logged next to --out")
    args = parser.parse_args()

    config = ProbeConfig(
        model=args.model, device=args.device, precision=args.precision, kernels=args.kernels,
        max_batch=args.max_batch, seq_len=args.seq_len, time_limit_s=args.time_limit,
        memory_cap_bytes=args.cap_mib * MIB if args.cap_mib else None, isolate=args.isolate,
        log_path=default_log_path(args.out) if args.out else None, resume=args.resume,
    )
    try:
        report = run_probe(config, on_event=progress)
    except BatchfitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(summary(report))
    if args.out:
        save_probe_report(report, args.out)
        print(f"report: {args.out}")
    return 0


def progress(event: ProbeEvent) -> None:
    if event.kind in ("point-done", "oom") and event.point is not None:
        p = event.point
        step = f"{p.step_time_s * 1e3:.1f} ms" if p.step_time_s else (p.reason or "")
        print(f"  [{event.elapsed_s:6.1f} s {event.fraction_done:4.0%}] B={p.batch_size}: {p.status} {step}",
              file=sys.stderr)
    elif event.kind in ("started", "plateau", "message"):  # the table below states how it ended
        print(f"  [{event.elapsed_s:6.1f} s] {event.text}", file=sys.stderr)


def summary(report: ProbeReport) -> str:
    m, d, s = report.model, report.device, report.settings
    flops = f"{m.flops_per_sample / 1e9:.3f} GFLOP/sample" if m.flops_per_sample else "FLOPs unknown"
    lines = [
        f"{m.id}: {m.params / 1e6:.2f}M params, {flops}, data: {m.data.source} ({m.data.kind})",
        f"{d.name}, memory {_mib(d.memory_bytes)} MiB ({d.memory_source}); {s.precision}, {s.optimizer}",
        "",
        f"{'batch':>6} {'step ms':>10} {'(min-max)':>17} {'samples/s':>10} {'peak MiB':>9} {'pred MiB':>9} "
        f"{'status':>8} {'MFU':>6}",
    ]
    for p in report.points:
        spread = f"({p.step_time_min_s * 1e3:.1f}-{p.step_time_max_s * 1e3:.1f})" if p.step_time_min_s else ""
        lines.append(
            f"{p.batch_size:>6} {_num(p.step_time_s, 1e3, '.2f'):>10} {spread:>17} "
            f"{_num(p.samples_per_s, 1, '.1f'):>10} "
            f"{_mib(p.peak_memory_bytes):>9} {_mib(p.predicted_memory_bytes):>9} {p.status:>8} "
            f"{_num(p.mfu, 100, '.1f', '%'):>6}" + (f"  {p.reason}" if p.reason and p.status != "ok" else "")
        )
    lines.append("")
    lines.append(f"stop: {report.stop_reason}; recommended max batch: {report.recommended_max_batch} "
                 f"(safety margin {s.safety_margin:.0%})")
    if report.memory_fit:
        fit = report.memory_fit
        lines.append(f"memory: {fit.static_bytes / MIB:.1f} MiB + B x {fit.per_sample_bytes / MIB:.3f} MiB "
                     f"({fit.provenance}, {fit.points_used} points, max residual {fit.max_relative_residual:.1%})")
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines)


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:.1f}"


def _num(value: float | None, scale: float, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value * scale:{spec}}{suffix}"


if __name__ == "__main__":
    sys.exit(main())

"""GPU-check stage `sweep-stability`: the same short GPT-2 small probe sweep three times, through
the real CLI, and how much its decisions and numbers move between runs.

    python bench/gpu_stages/sweep_stability.py --out DIR          (CUDA: about 60 s on an H200)
    python bench/gpu_stages/sweep_stability.py --out DIR --tiny   (gpt-tiny on the CPU)

For each run: where the sweep stopped (its stop_reason and the largest batch that ran), whether
the plateau rule made that call, and every point's dispersion: the probe's own step_time_spread
((q75 − q25) / median of its timed steps) and (max − min) / median beside it. Across runs: for
each batch all three ran, the spread of the median step times.
The three reports are kept beside the summary (sweep-run1.json ...).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

import stage_common  # first: it puts the repository on sys.path
import torch

from planner.contracts.probe import ProbeReport
from planner.report_file import load_probe_report

STAGE = "sweep-stability"
RUNS = 3
# bf16, the plateau rule at its default, to batch 64 (~0.27 s a step there on an H200).
GPU_ARGS = ["--model", "gpt2-small", "--device", "cuda", "--precision", "bf16", "--max-batch", "64",
            "--time-limit", "20"]
TINY_ARGS = ["--model", "gpt-tiny", "--device", "cpu", "--max-batch", "4", "--time-limit", "30"]
RUN_LIMIT_S = {False: 45, True: 120}  # by --tiny: CLI start, model build, the sweep's own limit


def probe_run(out: Path, index: int, probe_args: list[str], limit_s: float) -> Path:
    report = out / f"sweep-run{index}.json"
    argv = [sys.executable, "-m", "planner.cli.main", "probe", *probe_args, "--out", str(report)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(stage_common.REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(argv, cwd=stage_common.REPO, env=env, capture_output=True, text=True, timeout=limit_s)
    if done.returncode != 0:
        raise RuntimeError(f"probe run {index} exited {done.returncode}: {(done.stdout + done.stderr)[-500:]}")
    return report


def spread(low: float | None, high: float | None, median: float | None) -> float | None:
    """(max − min) / median of a point's timed steps."""
    if low is None or high is None or not median:
        return None
    return (high - low) / median


def run_summary(report: ProbeReport) -> dict:
    ok = report.ok_points()
    return {
        "stop_reason": report.stop_reason,
        "stopped_by_plateau": report.stop_reason == "plateau",
        "largest_batch_ran": max((p.batch_size for p in ok), default=None),
        "points": [{"batch": p.batch_size, "status": p.status, "step_s": p.step_time_s, "timed_steps": p.timed_steps,
                    "dispersion": p.step_time_spread,
                    "range": spread(p.step_time_min_s, p.step_time_max_s, p.step_time_s)}
                   for p in report.points],
    }


def _worst(runs: list[dict], key: str) -> float | None:
    return max((p[key] for r in runs for p in r["points"] if p[key] is not None), default=None)


def summarize(reports: list[ProbeReport]) -> dict:
    """Per run (run_summary) and across runs: agreement of the decisions, spread per batch."""
    runs = [run_summary(r) for r in reports]
    medians: dict[int, list[float]] = {}
    for report in reports:
        for p in report.ok_points():
            if p.step_time_s is not None:
                medians.setdefault(p.batch_size, []).append(p.step_time_s)
    across = []
    for batch, values in sorted(medians.items()):
        if len(values) == len(reports):
            mean = statistics.fmean(values)
            across.append({"batch": batch, "step_s": values, "relative_range": (max(values) - min(values)) / mean,
                           "cv": statistics.pstdev(values) / mean})
    return {
        "runs": runs,
        "same_stop_reason": len({r["stop_reason"] for r in runs}) == 1,
        "same_largest_batch": len({r["largest_batch_ran"] for r in runs}) == 1,
        "across_runs": across,
        "worst_point_dispersion": _worst(runs, "dispersion"),
        "worst_point_range": _worst(runs, "range"),
    }


def main(argv: list[str] | None = None) -> int:
    args = stage_common.parse_args(__doc__.splitlines()[0], argv=argv)
    device = torch.device(args.device)
    probe_args = TINY_ARGS if args.tiny else GPU_ARGS
    paths = [probe_run(args.out, i + 1, probe_args, RUN_LIMIT_S[args.tiny]) for i in range(RUNS)]
    summary = summarize([load_probe_report(p) for p in paths])
    for i, run in enumerate(summary["runs"], 1):
        print(f"run {i}: stopped by {run['stop_reason']} after B={run['largest_batch_ran']}")
    stage_common.write(args.out, STAGE, {"header": stage_common.header(STAGE, device), "probe_args": probe_args,
                                         "reports": [p.name for p in paths]} | summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

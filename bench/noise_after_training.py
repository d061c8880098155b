"""Does training before the read bring the probe's noise scale to where the run will be?

    .venv/bin/python bench/noise_after_training.py --out bench/results/noise-after-training-cpu

The probe (`batchfit probe --noise-steps N --noise-train-steps M --noise-target-loss L`) trains
the `mlp` preset on the stdlib corpus from initialisation until its training loss reaches L,
then measures B_simple while it trains on. Compared with `bench/truth.py`'s B_simple read on
the reference run's frozen checkpoints (bench/results/truth-cpu.json) at the loss the probe
measured at -- the measured steps train on, so the loss keeps falling below the target while
they run -- and with the probe's read with no training first.
B_small = 32, B_big = 512 as in the truth bench; the lr is the truth bench's reference lr at
B0 = 32 (2e-3) retuned to B_big by planner.plan.lr.retune, as a plan would.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from planner.contracts.request import ReferenceRun
from planner.plan.efficiency import SampleModel
from planner.plan.lr import retune
from planner.probe import ProbeConfig, run_probe

TRUTH = Path(__file__).resolve().parent / "results" / "truth-cpu.json"
B_SMALL, MICRO_BATCHES = 32, 16
REFERENCE = ReferenceRun(batch_size=32, lr=2e-3, optimizer="adamw")  # truth bench, L* = 1.7
TARGETS = (2.4, 2.1, 1.9, 1.7)


def late_target() -> dict:
    """bench/truth.py's L* = 1.7 outcome: reference run at lr 2e-3, measured steps per batch."""
    return next(t for t in json.loads(TRUTH.read_text())["targets"] if t["target_loss"] == 1.7)


def truth_b_simple() -> dict[float, float]:
    """held-out loss -> B_simple on the reference run (lr 2e-3) of bench/truth.py."""
    late = late_target()
    values = {rung["loss"]: rung["noise_scale"]["b_simple"] for rung in late["noise_scale"]["ladder"]}
    values[1.7] = late["noise_scale"]["at_target"]["b_simple"]
    return values


def probe_noise(lr: float, target: float | None, steps: int, train_steps: int) -> dict:
    began = time.perf_counter()
    config = ProbeConfig(model="mlp", device="cpu", start_batch=B_SMALL, max_batch=B_SMALL, plateau_gain=-1,
                         time_limit_s=3600, noise_steps=steps, noise_micro_batches=MICRO_BATCHES, noise_lr=lr,
                         noise_train_steps=train_steps if target is not None else 0, noise_target_loss=target)
    report = run_probe(config)
    ns = report.noise_scale
    return {"target_loss": target, "seconds": round(time.perf_counter() - began, 1), "warnings": report.warnings,
            "noise_scale": ns.model_dump(mode="json") if ns else None}


def truth_at(loss: float, truth: dict[float, float]) -> tuple[float, str]:
    """The truth's B_simple at a held-out loss: log-linear between its rungs; beyond them, the
    nearest rung's, marked (B_simple still grows below the lowest rung)."""
    levels = sorted(truth)
    if loss <= levels[0]:
        return truth[levels[0]], f" (at {levels[0]:g}: a floor)"
    if loss >= levels[-1]:
        return truth[levels[-1]], f" (at {levels[-1]:g})"
    upper = next(level for level in levels if level >= loss)
    lower = levels[levels.index(upper) - 1]
    frac = (loss - lower) / (upper - lower)
    return truth[lower] ** (1 - frac) * truth[upper] ** frac, ""


def worst_step_error(b_noise: float) -> float:
    """Worst |S(B) / measured - 1| over the L* = 1.7 table of bench/truth.py, predicting with b_noise."""
    late = late_target()
    model = SampleModel(late["reference"]["batch_size"], late["reference"]["samples_n0"], b_noise)
    return max(abs(model.steps(row["batch"]) / row["measured_mean"] - 1) for row in late["rows"])


def table(rows: list[dict], truth: dict[float, float]) -> str:
    lines = ["| training first, to loss | steps trained | loss while measured | probe B_simple (90% band) "
             "| truth B_simple at that loss | probe / truth | worst S(B) error, L* = 1.7 table |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        ns, target = row["noise_scale"], row["target_loss"]
        label = f"{target:g}" if target is not None else "none"
        if ns is None:
            lines.append(f"| {label} | | | not resolved: {'; '.join(row['warnings'])} | | | |")
            continue
        reference, note = truth_at(ns["train_loss"], truth)
        lines.append(f"| {label} | {ns['trained_steps']:,} | {ns['train_loss']:.3f} | {ns['b_simple']:,.0f} "
                     f"({ns['low']:,.0f}..{ns['high']:,.0f}) | {reference:,.0f}{note} | {ns['b_simple'] / reference:.2f} "
                     f"| {worst_step_error(ns['b_simple']):.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    parser.add_argument("--noise-steps", type=int, default=100)
    parser.add_argument("--train-steps", type=int, default=5000, help="most steps towards each target")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lr = retune(REFERENCE, B_SMALL * MICRO_BATCHES, None).lr
    began = time.perf_counter()
    rows = [probe_noise(lr, target, args.noise_steps, args.train_steps) for target in (None, *TARGETS)]
    truth = truth_b_simple()
    text = table(rows, truth)
    print(text)
    if args.out:
        meta = {"bench": "noise_after_training", "date": time.strftime("%Y-%m-%d"), "machine": platform.processor()
                or platform.machine(), "torch": torch.__version__, "threads": args.threads, "lr": lr,
                "b_small": B_SMALL, "b_big": B_SMALL * MICRO_BATCHES, "noise_steps": args.noise_steps,
                "runtime_s": round(time.perf_counter() - began, 1), "truth": {str(k): v for k, v in truth.items()}}
        args.out.with_suffix(".json").write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")
        header = (f"# The probe's noise scale after training first (CPU)\n\n`python bench/noise_after_training.py "
                  f"--threads {args.threads}`: {meta['runtime_s']:.0f} s, torch {torch.__version__}, mlp preset, "
                  f"B_small {B_SMALL}, B_big {B_SMALL * MICRO_BATCHES}, lr {lr:.3g} (2e-3 at B0 = 32 retuned), "
                  f"{args.noise_steps} measured steps. Truth: bench/truth.py's reference run at the same held-out "
                  "loss (bench/results/truth-cpu.md).\n\n")
        args.out.with_suffix(".md").write_text(header + text + "\n")


if __name__ == "__main__":
    main()

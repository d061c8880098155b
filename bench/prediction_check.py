"""The planner's prediction for a GPU, made from a CPU probe, against a probe measured on that GPU.

    python bench/prediction_check.py bench/results/gpt2-small-cpu-bf16.json \
        bench/results/h200-2026-11-26/probe-gpt2-small-torch.json --out bench/results/prediction-h200.json

For every batch the GPU probe ran: the step time the planner predicts from the CPU probe alone
(FLOPs/sample, the fitted priors of pricing/priors_fit.json, optimizer bytes over bandwidth) against the measured one.
For memory: the largest batch the CPU probe's memory fit allows at the GPU's capacity (no
margin, to compare with the measured boundary) and with the planner's margin and context.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from planner.plan import priors
from planner.plan.gpu_match import match_local_gpu
from planner.plan.memory import largest_batch, memory_fit_of
from planner.plan.step_time import StepTimeModel
from planner.report_file import load_probe_report
from providers.catalog import load_gpu_specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cpu_probe", type=Path)
    parser.add_argument("gpu_probe", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    cpu, gpu = load_probe_report(args.cpu_probe), load_probe_report(args.gpu_probe)
    spec = match_local_gpu(gpu.device, load_gpu_specs())
    if spec is None:
        raise SystemExit(f"no GPU spec matches {gpu.device.name}")
    precision = gpu.settings.precision
    model = StepTimeModel(cpu, None, precision)
    rows = []
    for p in gpu.ok_points():
        predicted = model.predict(spec, 1, p.batch_size, 1)
        rows.append({"batch": p.batch_size, "measured_s": p.step_time_s, "predicted_s": predicted.seconds,
                     "provenance": predicted.provenance, "error": predicted.seconds / p.step_time_s - 1})

    fit = memory_fit_of(cpu)
    check = gpu.memory_check
    capacity = gpu.device.memory_bytes
    memory = {
        "cpu_fit_static_gib": fit.static_bytes / 2**30,
        "cpu_fit_per_sample_mib": fit.per_sample_bytes / 2**20,
        "gpu_fit_static_gib": gpu.memory_fit.static_bytes / 2**30 if gpu.memory_fit else None,
        "gpu_fit_per_sample_mib": gpu.memory_fit.per_sample_bytes / 2**20 if gpu.memory_fit else None,
        "predicted_largest_no_margin": largest_batch(fit, capacity, margin=0.0, context_bytes=0.0).largest_batch,
        "predicted_largest_planner": largest_batch(fit, spec.memory_bytes).largest_batch,
        "planner_margin": priors.MEMORY_MARGIN,
        "planner_context_gb": priors.CUDA_CONTEXT_BYTES / 1e9,
        "measured_last_ok": check.last_ok_batch if check else None,
        "measured_first_oom": check.first_oom_batch if check else None,
    }
    print(f"{cpu.model.id}: predicted on {spec.name} from a probe on {cpu.device.name} "
          f"({cpu.settings.precision}) vs measured on {gpu.device.name} ({precision})")
    print(f"{'batch':>6} {'measured ms':>12} {'predicted ms':>13} {'error':>7}")
    for r in rows:
        print(f"{r['batch']:>6} {r['measured_s'] * 1e3:>12.1f} {r['predicted_s'] * 1e3:>13.1f} {r['error']:>+7.0%}")
    print(f"memory: largest batch {memory['predicted_largest_no_margin']} predicted without margin, "
          f"{memory['predicted_largest_planner']} with the planner's margin; measured: "
          f"{memory['measured_last_ok']} ran, {memory['measured_first_oom']} ran out")
    if args.out:
        args.out.write_text(json.dumps({"model": cpu.model.id, "gpu": spec.name, "precision": precision,
                                        "cpu_probe": str(args.cpu_probe), "gpu_probe": str(args.gpu_probe),
                                        "step_time": rows, "memory": memory}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Markdown tables from one GPU check's results folder, for bench/README.md.

    python bench/summarize_gpu.py bench/results/h200-2026-11-26

Reads what scripts/gpu-check (and the kernel benchmarks) wrote: adamw*.json, collate.json,
kernel-tests.xml, probe-*.json. Prints the tables; copies nothing and changes nothing.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

GIB = 2**30


def adamw_table(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    out = [f"AdamW step, {data['device']}, copy bandwidth {data['copy_bandwidth_gbps']:,.0f} GB/s "
           f"(read + write), `{path.name}`:", "",
           "| parameters | dtype | impl | ms | GB/s | of copy | vs torch fused |", "|---|---|---|---:|---:|---:|---:|"]
    for c in data["cases"]:
        out.append(f"| {c['params']} | {c['dtype']} | {c['impl']} | {c['ms']:.3f} | {c['gbps']:,.0f} | "
                   f"{c['fraction_of_copy']:.2f} | {c['speedup_vs_torch_fused']:.2f} |")
    return out


def tuning_table(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    out = [f"AdamW launch shapes, three clocks (ms per step), `{path.name}`:", "",
           "| parameters | dtype | impl | synced | pipelined | kernels only | kernels / copy |",
           "|---|---|---|---:|---:|---:|---:|"]
    for c in data["cases"]:
        out.append(f"| {c['params']} | {c['dtype']} | {c['impl']} | {c['synced_ms']:.3f} | {c['pipelined_ms']:.3f} | "
                   f"{c['kernel_ms']:.3f} | {c['kernel_fraction_of_copy']:.2f} |")
    return out


def collate_table(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    out = ["| case | reference ms | batchfit ms | speed-up |", "|---|---:|---:|---:|"]
    for c in data["cases"]:
        out.append(f"| {c['case']} | {c['reference_ms']:.3f} | {c['batchfit_ms']:.3f} | {c['speedup']:.1f}x |")
    return out


def tests_line(path: Path) -> str:
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root[0]
    return (f"CUDA kernel tests: {suite.get('tests')} run, {suite.get('failures')} failures, "
            f"{suite.get('errors')} errors, {suite.get('skipped')} skipped, {float(suite.get('time')):.1f} s")


def probe_table(path: Path) -> list[str]:
    r = json.loads(path.read_text())
    s = r["settings"]
    out = [f"`{path.name}`: {r['model']['id']}, {s['precision']}, optimizer {s['optimizer']}, "
           f"{r['model']['flops_per_sample'] / 1e9:,.1f} GFLOP/sample, stop: {r['stop_reason']}", "",
           "| batch | status | step ms | samples/s | peak GiB | traced GiB | MFU |", "|---:|---|---:|---:|---:|---:|---:|"]
    for p in r["points"]:
        def num(v, scale=1.0, fmt="{:,.1f}"):
            return "" if v is None else fmt.format(v / scale)
        out.append(f"| {p['batch_size']} | {p['status']} | {num(p['step_time_s'], 1e-3)} | {num(p['samples_per_s'])} | "
                   f"{num(p['peak_memory_bytes'], GIB, '{:.2f}')} | {num(p.get('predicted_memory_bytes'), GIB, '{:.2f}')} | "
                   f"{num(p.get('mfu'), 0.01, '{:.1f}%')} |")
    check = r.get("memory_check")
    if check and check.get("first_oom_batch"):
        out += ["", f"Memory: fit {r['memory_fit']['static_bytes'] / GIB:.2f} GiB + B x "
                    f"{r['memory_fit']['per_sample_bytes'] / 2**20:,.0f} MiB; at the card's "
                    f"{check['capacity_bytes'] / GIB:.1f} GiB it predicts a largest batch of "
                    f"{check['predicted_largest_batch']}; measured: {check['last_ok_batch']} ran, "
                    f"{check['first_oom_batch']} ran out of memory; error {check['relative_error']:+.1%} "
                    f"against the last batch that ran. Traced vs measured peak: at most "
                    f"{check['trace_max_relative_error']:.1%} apart."]
    noise = r.get("noise_scale")
    if noise:
        out += ["", f"Gradient noise scale: B_simple = {noise['b_simple']:.1f} samples "
                    f"(90% band {noise['low']:.1f}-{noise['high']:.1f}), B_small {noise['b_small']}, "
                    f"B_big {noise['b_big']}, {noise['steps']} steps from initialisation ({noise['method']})."]
    return out


def main() -> None:
    folder = Path(sys.argv[1])
    lines: list[str] = []
    if (folder / "kernel-tests.xml").exists():
        lines += [tests_line(folder / "kernel-tests.xml"), ""]
    for path in sorted(folder.glob("adamw-block*.json")) + sorted(folder.glob("adamw.json")):
        lines += adamw_table(path) + [""]
    for path in sorted(folder.glob("adamw-tuning*.json")):
        lines += tuning_table(path) + [""]
    if (folder / "collate.json").exists():
        lines += collate_table(folder / "collate.json") + [""]
    for path in sorted(folder.glob("probe-*.json")):
        lines += probe_table(path) + [""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Markdown tables from the issue-20 stages' JSON in one GPU check's folder, for bench/README.md.

    python bench/gpu_stages/summarize.py bench/results/<card>-<date>

Predicted beside measured with the error of each prediction (predicted / measured − 1). Reads
traced-vs-real.json, precision.json, adamw-graph.json, sweep-stability.json, compile.json
where present; prints, changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GIB = 2**30


def _num(value: float | None, fmt: str = "{:,.3f}", scale: float = 1.0) -> str:
    return "–" if value is None else fmt.format(value / scale)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1%}"


def _source(data: dict, name: str) -> str:
    head = data.get("header", {})
    return f"{head.get('card', data.get('device', '?'))}, {head.get('date', '?')}, commit {head.get('commit', '?')}, `{name}`"


def traced_table(data: dict) -> list[str]:
    if data.get("status") != "ok":
        return [f"traced-vs-real: not run ({'; '.join(data.get('missing', []))})"]
    out = [f"Traced vs real, {data['config']} ({_source(data, 'traced-vs-real.json')}):", "",
           "| seq | checkpointing | batch | peak GiB predicted | measured | error | step s predicted | measured | error |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        out.append(f"| {r['seq_len']} | {r['checkpointing']} | {r['batch']} | {_num(r['predicted_peak_bytes'], '{:.1f}', GIB)} "
                   f"| {_num(r.get('peak_bytes'), '{:.1f}', GIB)} | {_pct(r.get('peak_error'))} "
                   f"| {_num(r.get('predicted_step_s'))} | {_num(r.get('step_s'))} | {_pct(r.get('step_time_error'))} |")
    b = data.get("oom_boundary")
    if b:
        out += ["", f"OOM boundary, seq {b['seq_len']}, {b['checkpointing']}: predicted largest {b['predicted_largest']} "
                    f"(no margin, {b['capacity_bytes'] / GIB:.1f} GiB); ran {b['last_ok']}, out of memory at {b['first_oom']}."]
    return out


def precision_table(data: dict) -> list[str]:
    tf32 = data["header"]["tf32"]
    out = [f"Precision ({_source(data, 'precision.json')}; TF32: matmul {tf32['cuda.matmul.allow_tf32']}, "
           f"cuDNN {tf32['cudnn.allow_tf32']}):", "",
           "| model | batch | precision | samples/s measured | predicted | step-time error | peak GiB |",
           "|---|---:|---|---:|---:|---:|---:|"]
    for r in data["rows"]:
        out.append(f"| {r['model']} | {r['batch']} | {r['precision']} | {_num(r.get('samples_per_s'), '{:,.1f}')} "
                   f"| {_num(r.get('predicted_samples_per_s'), '{:,.1f}')} | {_pct(r.get('step_time_error'))} "
                   f"| {_num(r.get('peak_bytes'), '{:.1f}', GIB)} |")
    return out


def adamw_table(data: dict) -> list[str]:
    out = [f"AdamW step in a CUDA graph, copy bandwidth {data['copy_bandwidth_gbps']:,.0f} GB/s "
           f"({data['device']}, `adamw-graph.json`):", "",
           "| parameters | dtype | impl | ms | of copy | vs torch fused | vs torch fused graph |",
           "|---|---|---|---:|---:|---:|---:|"]
    for c in data["cases"]:
        out.append(f"| {c['params']} | {c['dtype']} | {c['impl']} | {c['ms']:.3f} | {c['fraction_of_copy']:.2f} "
                   f"| {c['speedup_vs_torch_fused']:.2f} | {c['speedup_vs_torch_fused_graph']:.2f} |")
    return out


def sweep_table(data: dict) -> list[str]:
    out = [f"Sweep stability, {' '.join(data['probe_args'])} ({_source(data, 'sweep-stability.json')}):", "",
           "| run | stop | largest batch ran | worst point dispersion (IQR / median) | worst (max − min) / median |",
           "|---:|---|---:|---:|---:|"]
    for i, run in enumerate(data["runs"], 1):
        worst = [max((p[k] for p in run["points"] if p.get(k) is not None), default=None) for k in ("dispersion", "range")]
        out.append(f"| {i} | {run['stop_reason']} | {run['largest_batch_ran']} | {_pct(worst[0]).lstrip('+')} "
                   f"| {_pct(worst[1]).lstrip('+')} |")
    out += ["", "| batch | median step s per run | range / mean | CV |", "|---:|---|---:|---:|"]
    for row in data["across_runs"]:
        out.append(f"| {row['batch']} | {' / '.join(f'{v:.4f}' for v in row['step_s'])} "
                   f"| {row['relative_range']:.1%} | {row['cv']:.1%} |")
    return out


def compile_table(data: dict) -> list[str]:
    out = [f"torch.compile ({_source(data, 'compile.json')}):", "",
           "| model | batch | backend | eager s | compiled s | speed-up | compile s |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in data["rows"]:
        out.append(f"| {r['model']} | {r['batch']} | {r['backend']} | {r['eager_step_s']:.4f} | {r['compiled_step_s']:.4f} "
                   f"| {r['speedup']:.2f}x | {r['compile_s']:.1f} |")
    return out


TABLES = {"traced-vs-real.json": traced_table, "precision.json": precision_table, "adamw-graph.json": adamw_table,
          "sweep-stability.json": sweep_table, "compile.json": compile_table}


def summarize(folder: Path) -> str:
    lines: list[str] = []
    for name, table in TABLES.items():
        if (folder / name).exists():
            lines += table(json.loads((folder / name).read_text())) + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1])))

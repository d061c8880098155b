"""How long a traced probe takes and how much memory it needs, up to a 70B-shaped Llama, on this CPU.

    .venv/bin/python bench/trace_scale.py --out bench/results/trace-scale-cpu.json

Each config traces in a fresh subprocess (so the peak RSS is its own, transformers' import
included) at sequence 8192 (GPT-2: 1024), bf16, all three checkpointing modes. Reported: wall
seconds and peak resident memory (ru_maxrss) per config. The issue's bar: a 70B config in under
60 s and under 4 GB of RAM on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "tests" / "models" / "hf_configs"
CASES = (("gpt2", 1024), ("llama-1b", 8192), ("llama3-8b", 8192), ("mistral-7b", 8192), ("llama-70b", 8192))

CHILD = """
import json, resource, sys, time
start = time.perf_counter()
from planner.probe.trace import trace_config
report = trace_config(sys.argv[1], int(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - start, "trace_seconds": report.trace.seconds,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "params": report.model.params, "method": report.trace.method,
                  "modes": [m.model_dump() for m in report.trace.modes]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for name, seq in CASES:
        done = subprocess.run([sys.executable, "-c", CHILD, str(CONFIGS / f"{name}.json"), str(seq)],
                              capture_output=True, text=True, check=True, cwd=ROOT,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        row = {"config": name, "seq_len": seq, **json.loads(done.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(f"{name:>11} seq {seq}: {row['params'] / 1e9:6.2f} B params, {row['seconds']:5.1f} s, "
              f"peak RSS {row['peak_rss_bytes'] / 2**30:.2f} GiB")
    result = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "cases": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""How long `batchfit plan --from-probe` takes, as a ratio to `python -c "import torch"`.

The CI planning path must stay torch-free and fast. Timing it against torch's own import in the
same run makes the number comparable across machines; CPU time (user + system of the child)
is used beside wall time because wall time on a shared 2-core machine swings with the load.

    python bench/from_probe_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLAN = [sys.executable, "-m", "planner.cli.main", "plan", "--from-probe", "tests/cli/data/gpt-tiny-cpu.json",
        "--tokens", "1e9", "--ref-batch", "64", "--ref-lr", "6e-4", "--budget", "500", "--deadline", "24", "--json"]
TORCH = [sys.executable, "-c", "import torch"]


def one_run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    torch_runs, plan_runs = [], []
    for _ in range(runs):  # interleaved, so a burst of load hits both
        torch_runs.append(one_run(TORCH))
        plan_runs.append(one_run(PLAN))
    for label, index in (("wall", 0), ("cpu", 1)):
        t = statistics.median(r[index] for r in torch_runs)
        p = statistics.median(r[index] for r in plan_runs)
        print(f"{label}: import torch {t:.3f} s, plan --from-probe {p:.3f} s, ratio {p / t:.3f} (median of {runs})")


if __name__ == "__main__":
    main()

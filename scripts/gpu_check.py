"""The GPU check behind `scripts/gpu-check RESULTS_DIR`: one call, about 6 minutes on an H100/H200.

Stages (issue 20, in priority order): traced-vs-real, precision, adamw-graph, sweep-stability,
compile, kernel-tests; see `stages`. Each runs in its own subprocess with its own time limit,
so one failure or hang costs only that stage, and writes its JSON (card, date, commit) into
RESULTS_DIR; this driver writes `summary.json` (what ran, how long, exit codes, output tails)
after every stage, so a run cut short still leaves what it measured. Without CUDA every stage
runs its CPU-sized logic instead (`--tiny`), and the CUDA-only AdamW graph benchmark is skipped.
Set BATCHFIT_COMMIT where the tree has no .git (the device machine's copy).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOTAL_BUDGET_S = float(os.environ.get("GPU_CHECK_BUDGET_S", 420))  # leave the lease room for a rerun
TAIL_CHARS = 3000


@dataclass
class Stage:
    name: str
    argv: list[str]
    limit_s: float
    status: str = "pending"
    seconds: float = 0.0
    returncode: int | None = None
    output_tail: str = ""
    outputs: list[str] = field(default_factory=list)


def bench_stage(name: str, script: str, limit_s: float, out: Path, tiny: bool, *extra: str) -> Stage:
    """A stage script of bench/gpu_stages/, writing `<name>.json`; `tiny`: its CPU-sized run."""
    argv = [sys.executable, f"bench/gpu_stages/{script}", "--out", str(out), *extra]
    if tiny:
        argv += ["--tiny", "--device", "cpu"]
    return Stage(name, argv, limit_s, outputs=[f"{name}.json"])


def stages(out: Path, cuda: bool) -> list[Stage]:
    """The stages in priority order (issue 20), each limit about 1.3x its expected H200 run time.

    Without CUDA each runs its CPU-sized logic instead, the AdamW graph benchmark is skipped,
    and the kernel tests run the graph path's interpreter tests only.
    """
    py = sys.executable
    tiny = not cuda
    adamw = Stage("adamw-graph", [py, "bench/kernel_bench/adamw.py", "--graph", "--out", str(out / "adamw-graph.json")],
                  60, outputs=["adamw-graph.json"])
    if not cuda:
        adamw.status = "skipped: no CUDA device"
    tests = ["tests/kernels", "-m", "cuda"] if cuda else ["tests/kernels/test_adamw_graph.py"]
    return [
        bench_stage("traced-vs-real", "traced_vs_real.py", 110, out, tiny),
        bench_stage("precision", "precision.py", 90, out, tiny),
        adamw,
        bench_stage("sweep-stability", "sweep_stability.py", 110, out, tiny),
        bench_stage("compile", "compile_speed.py", 90, out, tiny, *(["--backend", "aot_eager"] if tiny else [])),
        Stage("kernel-tests", [py, "-m", "pytest", *tests, "-q", "-x", "-p", "no:cacheprovider",
                               f"--junitxml={out / 'kernel-tests.xml'}"], 60, outputs=["kernel-tests.xml"]),
    ]


def commit() -> str:
    """BATCHFIT_COMMIT if set (the device machine's copy of the tree has no .git), else git's HEAD."""
    if os.environ.get("BATCHFIT_COMMIT"):
        return os.environ["BATCHFIT_COMMIT"]
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def environment() -> dict:
    info: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info["device"] = torch.cuda.get_device_name(0)
            info["memory_bytes"] = props.total_memory
            info["multiprocessors"] = props.multi_processor_count
        import triton

        info["triton"] = triton.__version__
    except ImportError as exc:
        info["import_error"] = str(exc)
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                              "--format=csv,noheader"], capture_output=True, text=True)
        info["nvidia_smi"] = smi.stdout.strip()
    return info


def run_stage(stage: Stage, remaining_s: float) -> None:
    limit = min(stage.limit_s, remaining_s)
    if limit < 20:
        stage.status = f"skipped: {remaining_s:.0f} s left of the {TOTAL_BUDGET_S:.0f} s budget"
        return
    began = time.perf_counter()
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                        "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(stage.argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit)
        stage.returncode = done.returncode
        stage.status = "ok" if done.returncode == 0 else "failed"
        output = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        stage.status = f"timed out after {limit:.0f} s"
        output = "".join(x.decode() if isinstance(x, bytes) else x for x in (exc.stdout or "", exc.stderr or ""))
    stage.seconds = round(time.perf_counter() - began, 1)
    stage.output_tail = output[-TAIL_CHARS:]


def main() -> int:
    args = sys.argv[1:]
    only = set(args[args.index("--only") + 1].split(",")) if "--only" in args[:-1] else None
    if len(args) != (3 if only else 1) or args[0].startswith("--"):
        print("usage: scripts/gpu-check RESULTS_DIR [--only STAGE,...]", file=sys.stderr)
        return 2
    out = Path(args[0]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    plan = stages(out, bool(env.get("cuda_available")))
    if only is not None:  # a rerun of a few stages when the lease is short
        unknown = only - {s.name for s in plan}
        if unknown:
            print(f"unknown stage(s) {', '.join(sorted(unknown))}; stages: {', '.join(s.name for s in plan)}",
                  file=sys.stderr)
            return 2
        plan = [s for s in plan if s.name in only]
    began = time.perf_counter()
    for stage in plan:
        if stage.status == "pending":
            run_stage(stage, TOTAL_BUDGET_S - (time.perf_counter() - began))
        print(f"{stage.name:<26} {stage.status:<28} {stage.seconds:6.1f} s", flush=True)
        summary = {"environment": env, "stages": [asdict(s) for s in plan]}
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(s.status in ("ok", "skipped: no CUDA device") for s in plan) else 1


if __name__ == "__main__":
    sys.exit(main())

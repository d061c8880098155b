"""The GPU check behind `scripts/gpu-check RESULTS_DIR`: one call, about 6 minutes on an H100/H200.

Stages run in priority order, each in its own subprocess with its own time limit, so one
failure or hang costs only that stage. Each stage writes its JSON into RESULTS_DIR; this driver
writes `summary.json` (what ran, how long, exit codes, output tails) after every stage, so a run
cut short still leaves what it measured. Without CUDA it runs what a CPU can -- the kernel tests
under the Triton interpreter, the benchmarks' smoke sizes, a tiny probe -- and lists the GPU
stages as skipped.
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


def probe(name: str, model: str, kernels: str, limit_s: float, out: Path, *extra: str) -> Stage:
    """A probe sweep through the real CLI, in bf16 on the GPU."""
    report = out / f"probe-{name}.json"
    argv = [sys.executable, "-m", "planner.cli.main", "probe", "--model", model, "--device", "cuda",
            "--precision", "bf16", "--kernels", kernels, "--time-limit", str(int(limit_s - 15)),
            "--out", str(report), *extra]
    return Stage(f"probe-{name}", argv, limit_s, outputs=[report.name])


def stages(out: Path) -> list[Stage]:
    py = sys.executable
    return [
        Stage("kernel-tests", [py, "-m", "pytest", "tests/kernels", "-m", "cuda", "-q", "-x", "-p", "no:cacheprovider",
                               f"--junitxml={out / 'kernel-tests.xml'}"], 100, outputs=["kernel-tests.xml"]),
        Stage("bench-adamw", [py, "bench/kernel_bench/adamw.py", "--out", str(out / "adamw.json")], 120,
              outputs=["adamw.json"]),
        Stage("bench-collate", [py, "bench/kernel_bench/collate.py", "--out", str(out / "collate.json")], 45,
              outputs=["collate.json"]),
        # To the OOM boundary (plateau stop off), so the memory model meets the real boundary.
        probe("gpt2-small-torch", "gpt2-small", "torch", 90, out, "--plateau-gain", "-1"),
        probe("gpt2-small-noise", "gpt2-small", "triton", 60, out, "--max-batch", "16", "--noise-steps", "30"),
        # The same read after training first, at GPT-2's usual lr: where a real run will be.
        # ~0.25 s a step of B_big 64 on an H200: 150 steps fit beside the sweep in its limit.
        probe("gpt2-small-noise-trained", "gpt2-small", "triton", 115, out, "--max-batch", "16", "--noise-steps", "30",
              "--noise-lr", "6e-4", "--noise-train-steps", "150"),
        probe("resnet50-torch", "resnet50", "torch", 80, out, "--plateau-gain", "-1"),
        probe("gpt2-small-triton", "gpt2-small", "triton", 50, out, "--plateau-gain", "-1", "--max-batch", "32"),
        probe("resnet50-triton", "resnet50", "triton", 40, out, "--plateau-gain", "-1", "--max-batch", "256"),
    ]


def cpu_stages(out: Path) -> list[Stage]:
    py = sys.executable
    return [
        Stage("kernel-tests-interpreter", [py, "-m", "pytest", "tests/kernels", "-q", "-x", "-p", "no:cacheprovider"], 300),
        Stage("bench-adamw-smoke", [py, "bench/kernel_bench/adamw.py", "--smoke", "--out", str(out / "adamw-smoke.json")],
              120, outputs=["adamw-smoke.json"]),
        Stage("bench-collate-smoke", [py, "bench/kernel_bench/collate.py", "--smoke", "--out",
                                      str(out / "collate-smoke.json")], 120, outputs=["collate-smoke.json"]),
        Stage("probe-gpt-tiny-cpu", [py, "-m", "planner.cli.main", "probe", "--model", "gpt-tiny", "--device", "cpu",
                                     "--max-batch", "8", "--noise-steps", "5", "--out", str(out / "probe-gpt-tiny-cpu.json")],
              120, outputs=["probe-gpt-tiny-cpu.json"]),
    ]


def environment() -> dict:
    info: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": os.environ.get("BATCHFIT_COMMIT", "unknown"),
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
    plan = stages(out)
    if not env.get("cuda_available"):
        for stage in plan:
            stage.status = "skipped: no CUDA device"
        plan = cpu_stages(out) + plan
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

"""Shared pieces of the GPU-check stages (scripts/gpu_check.py runs each as its own script).

Every stage writes `<out>/<stage>.json`: a header (card, date, commit, software, TF32 flags)
and its rows. Timing: CUDA events around each step on a GPU, perf_counter on a CPU; memory:
torch.cuda.max_memory_allocated since a reset (None on a CPU, where nothing counts it).
`--tiny` runs a stage's logic on CPU-sized shapes: what the tests exercise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from planner.contracts.probe import DeviceInfo

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as `python bench/gpu_stages/<stage>.py`
    sys.path.insert(0, str(REPO))

from scripts.gpu_check import commit  # noqa: E402  (the driver's: BATCHFIT_COMMIT, else git's HEAD)


def parse_args(description: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="results folder: the stage writes <stage>.json here")
    parser.add_argument("--tiny", action="store_true", help="CPU-sized shapes: checks the stage's logic runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args(argv)


def tf32_flags() -> dict:
    """torch's TF32 switches as this process runs them (defaults unless a stage says otherwise)."""
    return {
        "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def header(stage: str, device: torch.device) -> dict:
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or 'unknown'})"
    info = {
        "stage": stage,
        "card": card,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "tf32": tf32_flags(),
    }
    if device.type == "cuda":
        info["memory_bytes"] = torch.cuda.get_device_properties(device).total_memory
    return info


def local_gpu(device: torch.device) -> DeviceInfo | None:
    """The GPU at hand as the planner describes a probe's device (None on a CPU)."""
    from planner.contracts.probe import DeviceInfo

    if device.type != "cuda":
        return None
    return DeviceInfo(kind="cuda", name=torch.cuda.get_device_name(device),
                      memory_bytes=torch.cuda.get_device_properties(device).total_memory, memory_source="device")


def write(out: Path, stage: str, payload: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{stage}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_seconds(step: Callable[[], object], device: torch.device, steps: int) -> list[float]:
    """Seconds of each of `steps` calls, each timed alone (the device idle before it starts)."""
    times = []
    for _ in range(steps):
        synchronize(device)
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)  # elapsed_time is in ms
        else:
            began = time.perf_counter()
            step()
            times.append(time.perf_counter() - began)
    return times


def reset_peak(device: torch.device) -> None:
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_bytes(device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    synchronize(device)
    return torch.cuda.max_memory_allocated(device)


def free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def relative_error(predicted: float | None, measured: float | None) -> float | None:
    """predicted / measured − 1, or None where either is missing."""
    if predicted is None or measured is None or measured == 0:
        return None
    return predicted / measured - 1.0

"""Shared pieces of the kernel benchmarks: timing, the copy-bandwidth yardstick, reporting."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

# Runs as `python bench/kernel_bench/<script>.py`: make the repository's packages importable.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def parse_args(description: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: list[str] | None = None) -> argparse.Namespace:
    """--out, --smoke and --device, plus what `add_arguments` adds for one script."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, help="write machine-readable results to this JSON file")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, any device: checks the script runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args(argv)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_time_ms(fn: Callable[[], object], device: torch.device, *, warmup: int = 3, reps: int = 20) -> float:
    """Median device time of one call (CUDA events; wall clock on CPU), after warm-up calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            begin = time.perf_counter()
            fn()
            times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)


def wall_time_ms(fn: Callable[[], object], device: torch.device, *, warmup: int = 2, reps: int = 10) -> float:
    """Median host wall time of one call until its device work is done (end to end)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(reps):
        begin = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)


def copy_bandwidth_gbps(device: torch.device, numel: int) -> float:
    """Device-to-device copy of `numel` fp32: bytes read + bytes written, per second."""
    src = torch.randn(numel, device=device)
    dst = torch.empty_like(src)
    ms = device_time_ms(lambda: dst.copy_(src), device)
    return 2 * numel * 4 / (ms * 1e-3) / 1e9


def environment(device: torch.device) -> dict:
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    import kernels

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        "device": name,
        "torch": torch.__version__,
        "triton": triton_version,
        "kernels_backend": kernels.backend_for(device),
    }


def report(results: dict, columns: list[str], out: Path | None) -> None:
    """Print `results["cases"]` as a table (the given columns) and write everything as JSON."""
    rows = [[_format(case.get(col)) for col in columns] for case in results["cases"]]
    widths = [max(len(col), *(len(r[i]) for r in rows)) for i, col in enumerate(columns)]
    print("  ".join(col.ljust(w) for col, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {out}")


def _format(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)

"""What the probe ran on: the device (name, memory, ceilings) and the software versions.

On a CPU the memory figure is the cap that stands in for device memory (the probe never lets
a point's traced peak pass it). On CUDA the dense ceilings come from a small table keyed by
the device name, so the report is self-contained and MFU can be computed on the spot; the
planner matches the name against its own GPU spec table for everything else.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import torch

import planner
from planner.contracts.probe import DeviceInfo, Software
from planner.contracts.request import Precision
from planner.errors import BadInput

GIB = 2**30
DEFAULT_CAP_CEILING = 8 * GIB  # the CPU cap never defaults above this: a probe, not a stress test

# Dense peaks from NVIDIA datasheets (no sparsity): (bf16 TFLOP/s or None, fp32 TFLOP/s, memory
# bandwidth GB/s). First match wins, so the more specific names come first.
_CUDA_CEILINGS: list[tuple[str, float | None, float, float]] = [
    ("H200", 989.0, 67.0, 4800.0),
    ("H100 PCIe", 756.0, 51.0, 2000.0),
    ("H100", 989.0, 67.0, 3350.0),
    ("A100-SXM4-40GB", 312.0, 19.5, 1555.0),
    ("A100-PCIE-40GB", 312.0, 19.5, 1555.0),
    ("A100", 312.0, 19.5, 2039.0),
    ("L40S", 362.0, 91.6, 864.0),
    ("L4", 121.0, 30.3, 300.0),
    ("A10G", 70.0, 35.0, 600.0),
    ("T4", None, 8.1, 320.0),  # no bf16 tensor cores
    ("V100", None, 15.7, 900.0),
    ("B200", 2250.0, 75.0, 8000.0),
]


def resolve_device(choice: str) -> torch.device:
    """auto -> cuda when available, else cpu; asking for cuda without one is a BadInput."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda but torch sees no CUDA device; use --device cpu or auto")
    return canonical_device(torch.device(choice))


def canonical_device(device: torch.device) -> torch.device:
    """Map "cuda" to "cuda:<current>", the form tensors report, so device comparisons hold."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def default_memory_cap() -> int:
    """Half the machine's RAM, at most DEFAULT_CAP_CEILING (bytes). From the total, not what is
    free right now, so the cap -- part of a point log's fingerprint -- is the same on resume."""
    total = _meminfo_bytes("MemTotal")
    return DEFAULT_CAP_CEILING if total is None else min(DEFAULT_CAP_CEILING, total // 2)


def device_info(device: torch.device, precision: Precision, cap_bytes: int | None) -> DeviceInfo:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak_bf16, peak_fp32, bandwidth = cuda_ceilings(name)
        return DeviceInfo(
            kind="cuda",
            name=name,
            memory_bytes=torch.cuda.get_device_properties(device).total_memory,
            memory_source="device",
            peak_tflops=peak_bf16 if precision == "bf16" else peak_fp32,
            bandwidth_gbs=bandwidth,
        )
    return DeviceInfo(
        kind="cpu",
        name=_cpu_name(),
        memory_bytes=cap_bytes,
        memory_source="cap" if cap_bytes is not None else "unknown",
    )


def software_info() -> Software:
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = None
    return Software(
        python=platform.python_version(),
        torch=torch.__version__,
        triton=triton_version,
        cuda=torch.version.cuda,
        batchfit=planner.__version__,
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
    )


def cuda_ceilings(name: str) -> tuple[float | None, float | None, float | None]:
    """(bf16 TFLOP/s, fp32 TFLOP/s, GB/s) for a torch.cuda device name; None where unknown."""
    for key, bf16, fp32, bandwidth in _CUDA_CEILINGS:
        if key in name:
            return bf16, fp32, bandwidth
    return None, None, None


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    return f"{platform.processor() or platform.machine() or sys.platform} ({torch.get_num_threads()} threads)"


def _meminfo_bytes(field: str) -> int | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # the file counts kB
    return None

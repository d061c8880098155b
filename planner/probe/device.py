"""What the probe ran on: the device (name, memory, ceilings) and the software versions.

On a CPU the memory figure is the cap that stands in for device memory (the probe never lets
a point's traced peak pass it). On CUDA the device name is matched against the bundled GPU spec
table (`pricing/gpus.csv`, the one the planner prices with), so the report carries its dense
ceilings and MFU can be computed on the spot.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

import planner
from planner.contracts.probe import DeviceInfo, Software
from planner.contracts.request import Precision
from planner.errors import BadInput
from planner.plan.gpu_match import match_local_gpu
from providers.catalog import load_gpu_specs

GIB = 2**30
DEFAULT_CAP_CEILING = 8 * GIB  # the CPU cap never defaults above this: a probe, not a stress test

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
    # The TF32 flags the probe ran with: fp32 matmuls and convolutions take TF32 tensor cores by them.
    tf32 = {"tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    if device.type == "cuda":
        info = DeviceInfo(
            kind="cuda",
            name=torch.cuda.get_device_name(device),
            memory_bytes=torch.cuda.get_device_properties(device).total_memory,
            memory_source="device",
            **tf32,
        )
        # The ceilings come from the same GPU spec table the planner prices with.
        spec = match_local_gpu(info, load_gpu_specs())
        if spec is None:
            return info
        peak = spec.peak_tflops(precision, tf32=tf32["tf32_matmul"]) if spec.supports(precision) else None
        return DeviceInfo.model_validate({**info.model_dump(), "gpu_spec": spec.name, "peak_tflops": peak,
                                          "bandwidth_gbs": spec.bandwidth_gbs})
    return DeviceInfo(
        kind="cpu",
        name=_cpu_name(),
        memory_bytes=cap_bytes,
        memory_source="cap" if cap_bytes is not None else "unknown",
        **tf32,
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


def one_thread_if_busy() -> str | None:
    """One torch thread on a CPU whose cores other processes already keep busy (1-minute load
    average at least the core count); the line that says so, else None.

    Intra-op threads that wait on each other spin against the other processes: on a 2-core
    machine at load 11, a gpt-tiny step at B=16 took 1.66 s with 2 threads, 0.24 s with 1
    (28 ms idle with 2).
    """
    cores, threads = os.cpu_count() or 1, torch.get_num_threads()
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return None
    if threads <= 1 or load < cores:
        return None
    torch.set_num_threads(1)
    return (f"the CPU is busy (load average {load:.1f} on {cores} cores): probed with 1 torch thread, "
            f"not {threads}; its timings are this busy machine's")


def _cpu_name() -> str:
    threads = torch.get_num_threads()
    count = f"({threads} thread{'s' if threads != 1 else ''})"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} {count}"
    return f"{platform.processor() or platform.machine() or sys.platform} {count}"


def _meminfo_bytes(field: str) -> int | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # the file counts kB
    return None

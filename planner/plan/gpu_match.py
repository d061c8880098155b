"""Match the probe's device name ("NVIDIA H100 80GB HBM3") to a GPU in the spec table."""

from __future__ import annotations

import re

from planner.contracts.probe import DeviceInfo
from providers.schema import GpuSpec

_FAMILY = re.compile(r"\b([A-Z]{1,3}\d{1,4}[A-Z]?)\b")


def _tokens(name: str) -> set[str]:
    return set(re.split(r"[\s\-_]+", name.upper()))


def match_local_gpu(device: DeviceInfo, gpus: dict[str, GpuSpec]) -> GpuSpec | None:
    """The spec of the probe's GPU: same family, PCIe vs SXM as named, closest memory size."""
    if device.kind != "cuda":
        return None
    if device.gpu_spec and device.gpu_spec in gpus:
        return gpus[device.gpu_spec]
    families = _FAMILY.findall(device.name.upper())
    if not families:
        return None
    family = families[0]
    same_family = [g for g in gpus.values() if family in _tokens(g.name)]
    if not same_family:
        return None
    pcie = "PCIE" in device.name.upper()
    same_form = [g for g in same_family if ("PCIE" in g.name.upper()) == pcie] or same_family
    memory_gb = (device.memory_bytes or 0) / 1e9
    return min(same_form, key=lambda g: abs(g.memory_gb - memory_gb))

"""Hand-written GPU specs the planner and TUI tests price against (datasheet figures, dense)."""

from __future__ import annotations

import datetime as dt

from providers.schema import GpuSpec

SPECS_AS_OF = dt.date(2026, 10, 1)


def gpu(name: str, generation: str, memory_gb: float, bw: float, bf16: float | None, fp16: float,
        fp32: float, link: str, link_gbs: float, tf32: float | None = None) -> GpuSpec:
    return GpuSpec(name=name, vendor="nvidia", generation=generation, memory_gb=memory_gb, bandwidth_gbs=bw,
                   bf16_tflops=bf16, fp16_tflops=fp16, fp32_tflops=fp32, tf32_tflops=tf32, link=link,
                   link_gbs=link_gbs, source="test", as_of=SPECS_AS_OF)


H100 = gpu("H100-SXM-80GB", "hopper", 80, 3350, 989, 989, 67, "nvlink", 450, tf32=494.5)
A100 = gpu("A100-SXM-40GB", "ampere", 40, 1555, 312, 312, 19.5, "nvlink", 300, tf32=156)
T4 = gpu("T4-16GB", "turing", 16, 320, None, 65, 8.1, "pcie", 16)

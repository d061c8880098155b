"""The throughput/memory probe: real training steps on the local device, swept over batch sizes.

Importing this package is cheap: the sweep, the memory tracer and the training step (which load
torch) are imported on first use of their names. The probe's settings live torch-free in
`planner.contracts.probe_config`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.contracts.probe_config import ProbeConfig, ProbeEvent
    from planner.probe.memtrace import predict_step_peak, traced_step_peak
    from planner.probe.pointlog import default_log_path
    from planner.probe.step import TrainStep
    from planner.probe.sweep import run_probe

# public name -> the module that defines it
_LAZY = {
    "ProbeConfig": "planner.contracts.probe_config",
    "ProbeEvent": "planner.contracts.probe_config",
    "TrainStep": "planner.probe.step",
    "default_log_path": "planner.probe.pointlog",
    "predict_step_peak": "planner.probe.memtrace",
    "run_probe": "planner.probe.sweep",
    "traced_step_peak": "planner.probe.memtrace",
}

__all__ = [
    "ProbeConfig",
    "ProbeEvent",
    "TrainStep",
    "default_log_path",
    "predict_step_peak",
    "run_probe",
    "traced_step_peak",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'planner.probe' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)

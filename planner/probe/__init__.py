"""The throughput/memory probe: real training steps on the local device, swept over batch sizes."""

from planner.probe.config import ProbeConfig, ProbeEvent
from planner.probe.memtrace import predict_step_peak, traced_step_peak
from planner.probe.pointlog import default_log_path
from planner.probe.step import TrainStep
from planner.probe.sweep import run_probe

__all__ = [
    "ProbeConfig",
    "ProbeEvent",
    "TrainStep",
    "default_log_path",
    "predict_step_peak",
    "run_probe",
    "traced_step_peak",
]

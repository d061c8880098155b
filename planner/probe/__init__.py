"""The throughput/memory probe: real training steps on the local device, swept over batch sizes."""

from planner.probe.config import ProbeConfig, ProbeEvent
from planner.probe.memfit import CUDA_CONTEXT_BYTES, fit_memory, largest_batch_by_memory, recommended_max_batch
from planner.probe.memtrace import predict_step_peak, traced_step_peak
from planner.probe.pointlog import default_log_path, write_report
from planner.probe.step import TrainStep
from planner.probe.sweep import run_probe

__all__ = [
    "CUDA_CONTEXT_BYTES",
    "ProbeConfig",
    "ProbeEvent",
    "TrainStep",
    "default_log_path",
    "fit_memory",
    "largest_batch_by_memory",
    "predict_step_peak",
    "recommended_max_batch",
    "run_probe",
    "traced_step_peak",
    "write_report",
]

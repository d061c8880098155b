"""Typed, versioned documents that cross the boundaries between probe, catalog, planner and UI."""

from planner.contracts.plan import (
    PLAN_SCHEMA_VERSION,
    Candidate,
    Exclusion,
    LrChoice,
    Plan,
    ProbeSummary,
    Recommendation,
    StatisticalEfficiency,
)
from planner.contracts.probe import (
    PROBE_SCHEMA_VERSION,
    DataInfo,
    DeviceInfo,
    MemoryCheck,
    MemoryFit,
    ModelInfo,
    NoiseScale,
    ProbePoint,
    ProbeReport,
    ProbeSettings,
    Software,
)
from planner.contracts.request import REQUEST_SCHEMA_VERSION, PlanRequest, ReferenceRun, Workload

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "PROBE_SCHEMA_VERSION",
    "REQUEST_SCHEMA_VERSION",
    "Candidate",
    "DataInfo",
    "DeviceInfo",
    "Exclusion",
    "LrChoice",
    "MemoryCheck",
    "MemoryFit",
    "ModelInfo",
    "NoiseScale",
    "Plan",
    "PlanRequest",
    "ProbePoint",
    "ProbeReport",
    "ProbeSettings",
    "ProbeSummary",
    "Recommendation",
    "ReferenceRun",
    "Software",
    "StatisticalEfficiency",
    "Workload",
]

"""Shared settings for the probe tests: short sweeps of tiny models on the CPU."""

from __future__ import annotations

import pytest

import planner.probe.plateau
import planner.probe.point
from planner.probe import ProbeConfig
from tests.probe import probe_factories

FAST = dict(device="cpu", warmup_steps=1, timed_steps=2, min_timed_s=0.0, memory_cap_bytes=2**30)


@pytest.fixture
def fast_config():
    """ProbeConfig(model=..., **overrides) with one warm-up step, two timed steps and a 1 GiB cap."""

    def make(model: str, **overrides) -> ProbeConfig:
        return ProbeConfig(model=model, **{**FAST, **overrides})

    return make


@pytest.fixture
def scripted_clock(monkeypatch):
    """Steps of the probe_factories bundles still run for real, but each is reported to take
    SCRIPTED_STEP_S[bundle id](B) seconds, so the sweep's throughput decisions are deterministic."""

    def scripted_seconds(step, batch) -> float:
        step.run(batch)
        return probe_factories.SCRIPTED_STEP_S[step.bundle.id](len(batch[0]))

    monkeypatch.setattr(planner.probe.point, "_one_step_seconds", scripted_seconds)


@pytest.fixture
def gpu_clock(scripted_clock, monkeypatch):
    """The scripted clock, with the sweep treating its timings as a GPU's: throughput may stop it,
    and points are timed for min_timed_s."""
    monkeypatch.setattr(planner.probe.plateau, "throughput_decides", lambda device: True)

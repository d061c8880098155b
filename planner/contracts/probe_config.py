"""ProbeConfig (what to sweep and how) and ProbeEvent (what a UI hears while it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from planner.contracts.probe import KernelsChoice, ProbePoint
from planner.contracts.request import Precision


class ProbeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="preset name or package.module:factory")
    seq_len: int | None = Field(default=None, ge=1, description="tokens per sample, sequence presets only")
    checkpointing: bool = Field(default=False, description="activation checkpointing, transformer presets only")
    data: Path | None = Field(default=None, description=".npy/.pt token ids for the GPT presets")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Precision = "fp32"
    kernels: KernelsChoice = "torch"
    start_batch: int = Field(default=1, ge=1)
    max_batch: int | None = Field(default=None, ge=1, description="None: grow until OOM, plateau or time limit")
    time_limit_s: float = Field(
        default=300.0, gt=0,
        description="whole probe: a point that would overrun is skipped, noise steps stop (after 3) once it is spent",
    )
    point_time_limit_s: float = Field(default=30.0, gt=0, description="one point's timed steps (at least one runs)")
    memory_cap_bytes: int | None = Field(
        default=None, gt=0, description="CPU only: stands in for device memory; None = half the RAM, at most 8 GiB"
    )
    warmup_steps: int = Field(default=2, ge=1, description="untimed steps first (allocator, kernel compilation)")
    timed_steps: int = Field(default=5, ge=1)
    min_timed_s: float = Field(
        default=0.2, ge=0,
        description="GPU: each point is timed over at least timed_steps steps and this many seconds (within point_time_limit_s)",
    )
    plateau_gain: float = Field(
        default=0.05, ge=-1,
        description="GPU only: stop after two doublings in a row gain less than this (-1: never); a CPU never stops on it",
    )
    refine_multiple: int = Field(default=8, ge=1, description="refine the OOM boundary down to this multiple")
    safety_margin: float = Field(default=0.1, ge=0, lt=1, description="memory kept free below the capacity")
    log_path: Path | None = Field(default=None, description="JSONL log, one line per finished point")
    resume: bool = Field(default=False, description="reuse the points already in log_path")
    isolate: bool = Field(default=False, description="run each point in a fresh subprocess")
    noise_steps: int = Field(
        default=0, ge=0, description="after the sweep: training steps measuring the gradient noise scale (0: off)"
    )
    noise_micro_batches: int = Field(
        default=4, ge=2, description="k: B_big = k x B_small, run as k micro-batches of B_small"
    )
    noise_reference_batch: int | None = Field(
        default=None, ge=1, description="the reference run's batch: B_small is at most it (and max_batch, and what fits)"
    )
    noise_ema: float = Field(default=0.95, ge=0, lt=1, description="weight the noise-scale averages keep per step")
    noise_lr: float | None = Field(
        default=None, gt=0,
        description="learning rate of the noise phase's training (None: the probe's 1e-4, which barely trains)",
    )
    noise_train_steps: int = Field(
        default=0, ge=0,
        description="training steps at B_big before the noise is measured: B_noise grows as the loss falls, "
                    "so a read near initialisation understates it (0: measure at once)",
    )
    noise_target_loss: float | None = Field(
        default=None,
        description="end that training early once the mean loss of the last steps is at or below this",
    )
    nproc: int = Field(default=1, ge=1, description="after the sweep: the step under DDP on this many ranks (1: off)")

    @model_validator(mode="after")
    def _batch_range(self) -> ProbeConfig:
        if self.max_batch is not None and self.max_batch < self.start_batch:
            raise ValueError(f"max_batch {self.max_batch} is below start_batch {self.start_batch}")
        if self.resume and self.log_path is None:
            raise ValueError("resume needs a log_path to resume from")
        if (self.noise_train_steps or self.noise_target_loss is not None) and not self.noise_steps:
            raise ValueError("noise_train_steps and noise_target_loss train before the noise steps; "
                             "they need noise_steps > 0")
        if self.noise_target_loss is not None and not self.noise_train_steps:
            raise ValueError("noise_target_loss needs noise_train_steps > 0, the most steps to train towards it")
        return self


EventKind = Literal["started", "point-started", "point-done", "oom", "plateau", "message", "done"]


class ProbeEvent(BaseModel):
    """One progress message.

    started: once, text names model and device. point-started: batch_size about to run.
    point-done: a finished point (ok, error, or reused from the log: point.resumed).
    oom: a point over the memory (a CUDA OOM, or the CPU cap, predicted or measured).
    plateau: the doubling gain fell below plateau_gain. message: anything else worth a line
    (refinement, skipped points, warnings). done: the sweep ended; text is the stop reason.
    fraction_done and eta_s are estimates (points done over points expected), for a progress bar.
    """

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    batch_size: int | None = None
    point: ProbePoint | None = None
    text: str = ""
    elapsed_s: float
    fraction_done: float = Field(ge=0, le=1)
    eta_s: float | None = None

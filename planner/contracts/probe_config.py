"""ProbeConfig (what to sweep and how) and ProbeEvent (what a UI hears while it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from planner.contracts.probe import KernelsChoice, ProbePoint
from planner.contracts.request import Precision
from planner.contracts.settings import Strict, setting


class ProbeConfig(Strict):
    """What to sweep and how. Each field with a flag is `batchfit probe`'s (and `plan --model`'s)
    flag of that name: see `planner.contracts.settings` for adding one."""

    model: str = setting(flag="--model", metavar="NAME|pkg.mod:factory",
                         help="a preset (mlp, gpt-tiny, gpt2-small, resnet50, ...) or your package.module:factory")
    seq_len: int | None = setting(None, flag="--seq-len", ge=1, help="tokens per sample (sequence presets only)")
    checkpointing: bool = setting(False, flag="--checkpointing", help="activation checkpointing (transformer presets)")
    data: Path | None = setting(None, flag="--data", metavar="PATH", help=".npy/.pt token ids for the GPT presets")
    device: Literal["auto", "cpu", "cuda"] = setting("auto", flag="--device", help="where the probe runs")
    precision: Precision = setting(
        "fp32", flag="--precision",
        help="bf16 = autocast; fp16 = autocast with a grad scaler; the command line's default is fp32 on a CPU, "
             "bf16 on CUDA where supported, else fp16")
    kernels: KernelsChoice = setting(
        "torch", flag="--kernels", help="optimizer and collate: torch's or batchfit's fused Triton kernels")
    start_batch: int = Field(default=1, ge=1)
    max_batch: int | None = setting(None, flag="--max-batch", ge=1,
                                    help="largest batch to try (default: grow until OOM, plateau or time limit)")
    time_limit_s: float = setting(
        120.0, flag="--time-limit", unit="s", metavar="SECONDS", gt=0,
        help="the whole probe, setup included: sweep, memory traces, noise and DDP phases (it ends within a tenth "
             "or one step of it)",
    )
    point_time_limit_s: float = Field(default=30.0, gt=0, description="one point's timed steps (at least one runs)")
    memory_cap_bytes: int | None = setting(
        None, flag="--memory-cap", unit="GB", scale=1e9, metavar="GB", gt=0,
        help="CPU only: memory that stands in for a device's; default half the RAM, at most 8 GiB",
    )
    warmup_steps: int = Field(default=2, ge=1, description="untimed steps first (allocator, kernel compilation)")
    timed_steps: int = Field(default=5, ge=1)
    min_timed_s: float = Field(
        default=0.2, ge=0,
        description="GPU: each point is timed over at least timed_steps steps and this many seconds (within point_time_limit_s)",
    )
    plateau_gain: float = setting(
        0.05, flag="--plateau-gain", ge=-1, le=100,
        help="GPU only: stop after two doublings in a row gain less than this fraction of throughput (-1: never); "
             "a CPU never stops on it")
    refine_multiple: int = Field(default=8, ge=1, description="refine the OOM boundary down to this multiple")
    safety_margin: float = Field(default=0.1, ge=0, lt=1, description="memory kept free below the capacity")
    log_path: Path | None = Field(default=None, description="JSONL log, one line per finished point")
    resume: bool = setting(False, flag="--resume", help="continue an interrupted sweep from its point log")
    fresh: bool = setting(False, flag="--fresh", help="start over: replace the points an earlier run logged")
    trace_only: bool = setting(
        False, flag="--trace-only",
        help="take no real step: trace the model on fake tensors (FLOPs, activation and optimizer memory) and "
             "report that; a model that cannot fit the memory is traced so without this flag")
    isolate: bool = setting(False, flag="--isolate", help="run each point in its own subprocess")
    noise_steps: int = setting(
        0, flag="--noise-steps", metavar="N", ge=0,
        help="after the sweep, train N steps measuring the gradient noise scale (critical batch; 0: off)")
    noise_micro_batches: int = Field(
        default=4, ge=2, description="k: B_big = k x B_small, run as k micro-batches of B_small"
    )
    noise_reference_batch: int | None = Field(
        default=None, ge=1, description="the reference run's batch: B_small is at most it (and max_batch, and what fits)"
    )
    noise_ema: float = Field(default=0.95, ge=0, lt=1, description="weight the noise-scale averages keep per step")
    noise_lr: float | None = setting(
        None, flag="--noise-lr", metavar="LR", gt=0,
        help="learning rate of the noise steps (default: the reference run's when planning, else 1e-4)",
    )
    noise_train_steps: int = setting(
        0, flag="--noise-train-steps", metavar="N", ge=0,
        help="train up to N steps before measuring the noise scale, which grows as the loss falls",
    )
    noise_target_loss: float | None = setting(
        None, flag="--noise-target-loss", metavar="LOSS",
        help="end that training once the training loss is at or below LOSS (your run's target)",
    )
    nproc: int = setting(
        1, flag="--nproc", metavar="N", ge=1, le=1024,
        help="after the sweep, time the step under DDP on N local ranks (GPUs; gloo processes on a CPU; 1: off)")

    @model_validator(mode="after")
    def _batch_range(self) -> ProbeConfig:
        if self.max_batch is not None and self.max_batch < self.start_batch:
            raise ValueError(f"max_batch {self.max_batch} is below start_batch {self.start_batch}")
        if self.resume and self.fresh:
            raise ValueError("resume continues the point log and fresh replaces it: give one")
        if self.resume and self.log_path is None:
            raise ValueError("resume needs a log_path to resume from")
        return self

    # The noise phase's rules are field validators (the fields come after noise_steps), so that each
    # error names its field: the CLI says the flag, the TUI shows it beside the field.
    @field_validator("noise_train_steps")
    @classmethod
    def _train_needs_noise_steps(cls, value: int, info: ValidationInfo) -> int:
        if value and info.data.get("noise_steps") == 0:
            raise ValueError("trains before the noise steps, so it needs noise_steps > 0")
        return value

    @field_validator("noise_target_loss")
    @classmethod
    def _target_needs_training(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None or "noise_train_steps" not in info.data:  # that field's own error is said already
            return value
        if info.data.get("noise_steps") == 0:
            raise ValueError("ends a training before the noise steps, so it needs noise_steps > 0")
        if not info.data["noise_train_steps"]:
            raise ValueError("needs noise_train_steps > 0, the most steps to train towards it")
        return value


EventKind = Literal["started", "point-started", "point-done", "oom", "plateau", "message", "done"]


class ProbeEvent(BaseModel):
    """One progress message.

    started: once, text names model and device. point-started: batch_size about to run.
    point-done: a finished point (ok, error, or reused from the log: point.resumed).
    oom: a point over the memory (a CUDA OOM, or the CPU cap, predicted or measured).
    plateau: on a GPU, two doublings in a row gained less than plateau_gain. message: anything else worth a line
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

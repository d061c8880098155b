"""The multi-device probe: the training step under DistributedDataParallel on N local ranks.

`run_ddp_probe` launches `python -m torch.distributed.run --standalone --nproc-per-node N -m
planner.probe.ddp_worker REQUEST OUT_DIR` (nccl on CUDA, one GPU per rank; gloo on CPU) and
reads back what rank 0 measured (see ddp_worker.py for the phases): step time at a few
per-rank batch sizes with and without the gradient all-reduce, a rank alone without DDP,
a standalone all-reduce of the gradients' size, and -- when asked -- the gradient noise
scale from per-rank against all-reduced gradients. A rank that fails writes one line to
rank<r>.error.json; the parent raises the earliest of them (the cause -- the others are
killed by torchrun after it) as BadInput or ProbeFailed, never a wall of tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict

from planner.contracts.probe import DdpMeasurement
from planner.errors import BadInput, ProbeFailed
from planner.contracts.probe_config import ProbeConfig
from planner.probe.point import Cancelled

WORKER = "planner.probe.ddp_worker"
RESULT_FILE = "result.json"
POLL_S = 0.2  # how often the parent checks the cancel event while the ranks run
KILL_GRACE_S = 10.0  # torchrun gets this long to stop its ranks after SIGTERM


class DdpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: ProbeConfig
    device_type: Literal["cpu", "cuda"]
    batch_sizes: list[int]
    noise_deadline: float | None = None  # time.time() after which the noise steps stop (after MIN_STEPS)


class DdpReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measurement: DdpMeasurement
    warnings: list[str] = []


class RankError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rank: int
    at: float  # time.time() when it failed: the earliest failure is the cause
    message: str
    bad_input: bool = False


def backend_for(device_type: str) -> Literal["nccl", "gloo"]:
    return "nccl" if device_type == "cuda" else "gloo"


def check_ddp(nproc: int, device: torch.device) -> None:
    """BadInput, before any sweep, when this machine cannot run `nproc` ranks on `device`."""
    if nproc < 2:
        return
    if device.type == "cuda" and torch.cuda.device_count() < nproc:
        raise BadInput(f"--nproc {nproc} needs {nproc} GPUs, torch sees {torch.cuda.device_count()}; "
                       "give --nproc at most that (or --device cpu for gloo ranks)")
    backend = backend_for(device.type)
    if not dist.is_available() or not (dist.is_nccl_available() if backend == "nccl" else dist.is_gloo_available()):
        raise BadInput(f"--nproc {nproc} needs torch.distributed with {backend}, which this torch build lacks")


def ddp_batch_sizes(working_batch: int) -> list[int]:
    """Per-rank batch sizes to time: the working batch and its half and quarter, where >= 1."""
    return sorted({b for b in (working_batch // 4, working_batch // 2, working_batch) if b >= 1})


def ddp_phase(config: ProbeConfig, device: torch.device, working_batch: int, noise_deadline: float,
              cancel: threading.Event | None, say: Callable[[str], None]) -> tuple[DdpMeasurement | None, list[str]]:
    """The probe's DDP phase around `working_batch` per rank: (the measurement, warnings).

    `noise_deadline` is a time.time(). Cancel or Ctrl-C stop the ranks and leave a warning;
    a failing rank raises (BadInput / ProbeFailed) -- the user asked for this measurement.
    """
    sizes = ddp_batch_sizes(working_batch)
    noise = f", then {config.noise_steps} noise-scale steps" if config.noise_steps else ""
    say(f"DDP probe: {config.nproc} ranks ({backend_for(device.type)}), batch per rank "
        f"{', '.join(map(str, sizes))}{noise}")
    try:
        measurement, warnings = run_ddp_probe(config, device, sizes, noise_deadline, cancel)
    except Cancelled:
        return None, ["DDP probe: cancelled"]
    except KeyboardInterrupt:
        return None, ["DDP probe: interrupted (Ctrl-C)"]
    efficiency = f"{measurement.scaling_efficiency:.0%}" if measurement.scaling_efficiency is not None else "n/a"
    say(f"DDP probe: all-reduce {measurement.allreduce_s * 1e3:.1f} ms for {measurement.grad_bytes / 2**20:.1f} MiB "
        f"({measurement.bus_bandwidth_gbs:.2f} GB/s bus), scaling efficiency {efficiency} "
        f"at batch {sizes[-1]} per rank")
    return measurement, warnings


def run_ddp_probe(config: ProbeConfig, device: torch.device, batch_sizes: list[int],
                  noise_deadline: float | None = None, cancel: threading.Event | None = None
                  ) -> tuple[DdpMeasurement, list[str]]:
    """(the measurement, warnings) of `config.nproc` ranks; noise steps when config.noise_steps > 0.

    Raises BadInput (a rank found the user's model or options wrong), ProbeFailed (a rank or
    torchrun failed) or Cancelled (`cancel` was set: the ranks are stopped).
    """
    request = DdpRequest(config=config, device_type="cuda" if device.type == "cuda" else "cpu", batch_sizes=batch_sizes,
                         noise_deadline=noise_deadline)
    with tempfile.TemporaryDirectory(prefix="batchfit-ddp-") as tmp:
        out_dir = Path(tmp)
        request_path = out_dir / "request.json"
        request_path.write_text(request.model_dump_json())
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc-per-node={config.nproc}", "--module", WORKER, str(request_path), str(out_dir)]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=_environment(config.nproc), start_new_session=True)
        try:
            _, stderr = _communicate(child, cancel)
        except BaseException:  # Cancelled, KeyboardInterrupt: the ranks go with us
            _stop(child)
            raise
        errors = sorted((RankError.model_validate_json(p.read_text()) for p in out_dir.glob("rank*.error.json")),
                        key=lambda e: e.at)
        if errors:
            first = errors[0]
            message = f"DDP probe, rank {first.rank} of {config.nproc}: {first.message}"
            raise BadInput(message) if first.bad_input else ProbeFailed(message)
        result = out_dir / RESULT_FILE
        if child.returncode != 0 or not result.is_file():
            raise ProbeFailed(f"DDP probe: torchrun exited with code {child.returncode} and no rank said why "
                              f"({_last_words(stderr)})")
        reply = DdpReply.model_validate(json.loads(result.read_text()))
    return reply.measurement, reply.warnings


def _environment(nproc: int) -> dict[str, str]:
    """The parent's, with its own import path (the ranks import the user's factory as it did) and
    the CPU threads shared out among the ranks (torchrun would pin 1 each and print a warning)."""
    env = dict(os.environ)
    own = [p for p in sys.path if p and not p.startswith((sys.prefix, sys.base_prefix))]
    env["PYTHONPATH"] = os.pathsep.join([*own, *filter(None, [env.get("PYTHONPATH")])])
    if "OMP_NUM_THREADS" not in env:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        env["OMP_NUM_THREADS"] = str(max(1, cpus // nproc))
    return env


def _communicate(child: subprocess.Popen, cancel: threading.Event | None) -> tuple[str, str]:
    while True:
        try:
            return child.communicate(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                raise Cancelled from None


def _stop(child: subprocess.Popen) -> None:
    """SIGTERM to torchrun's process group (torchrun and its ranks), SIGKILL to what outlives the grace."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=KILL_GRACE_S)
        os.killpg(child.pid, signal.SIGKILL)  # a rank still up after torchrun left
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole group is gone already
        pass
    child.wait()


def _last_words(stderr: str) -> str:
    """The exit code of the rank torchrun names as the root cause (the others it stopped itself),
    else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    root = next((i for i, line in enumerate(lines) if line.startswith("Root Cause")), 0)
    for line in lines[root:]:
        if line.startswith("exitcode"):
            return line
    return lines[-1] if lines else "no output"

"""Isolated points: each batch size measured in a fresh `python -m planner.probe.worker` process.

For models that fragment the CUDA allocator, an OOM at one size can make the next size fail
in the same process though it would fit alone. A fresh process per point avoids that at the
cost of a start-up (import, model build) per point, outside the timed region. The request
comes as JSON on stdin; the reply is one JSON line on stdout.
"""

from __future__ import annotations

import subprocess
import sys
import threading

from pydantic import BaseModel, ConfigDict

from planner.contracts.probe import ProbePoint
from planner.errors import BadInput
from planner.contracts.probe_config import ProbeConfig
from planner.probe.point import Cancelled

POLL_S = 0.2  # how often the parent checks the cancel event while a worker runs


class WorkerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: ProbeConfig
    batch_size: int
    cap_bytes: int | None


class WorkerReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: ProbePoint | None = None
    bad_input: str | None = None


def run_isolated(config: ProbeConfig, batch_size: int, cap_bytes: int | None,
                 cancel: threading.Event | None = None) -> ProbePoint:
    """Measure one point in a child process; a crashed child becomes an error point."""
    request = WorkerRequest(config=config, batch_size=batch_size, cap_bytes=cap_bytes).model_dump_json()
    child = subprocess.Popen([sys.executable, "-m", "planner.probe.worker"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = _communicate(child, request, cancel)
    except BaseException:  # Cancelled, KeyboardInterrupt: the child goes with us
        child.kill()
        child.wait()
        raise
    lines = stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return ProbePoint(batch_size=batch_size, status="error",
                          reason=f"isolated worker exited with code {child.returncode}: {last}")
    reply = WorkerReply.model_validate_json(lines[-1])
    if reply.bad_input is not None:
        raise BadInput(reply.bad_input)
    assert reply.point is not None
    return reply.point


def _communicate(child: subprocess.Popen, request: str, cancel: threading.Event | None) -> tuple[str, str]:
    pending: str | None = request
    while True:
        try:
            return child.communicate(pending, timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pending = None  # stdin was written and closed by the first call
            if cancel is not None and cancel.is_set():
                raise Cancelled from None


def main() -> int:
    import torch

    from planner.models.registry import load_model
    from planner.probe.device import resolve_device
    from planner.probe.point import measure_point
    from planner.probe.step import TrainStep

    request = WorkerRequest.model_validate_json(sys.stdin.read())
    config = request.config
    try:
        bundle = load_model(config.model, seq_len=config.seq_len, checkpointing=config.checkpointing, data=config.data)
    except BadInput as exc:  # it loaded in the parent: a factory failing now is this point's error
        point = ProbePoint(batch_size=request.batch_size, status="error", reason=f"loading the model failed: {exc}")
        print(WorkerReply(point=point).model_dump_json(), flush=True)
        return 0
    try:
        device: torch.device = resolve_device(config.device)
        step = TrainStep(bundle, device, config.precision, config.kernels)
        reply = WorkerReply(point=measure_point(step, request.batch_size, config, request.cap_bytes))
    except BadInput as exc:  # the model breaks the bundle contract (a non-scalar loss): the user's to fix
        reply = WorkerReply(bad_input=str(exc))
    print(reply.model_dump_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

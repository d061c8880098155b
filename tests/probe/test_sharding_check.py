"""The layout formulas (planner/plan/parallel.py) against real torch FSDP2 and DDP on gloo CPU
ranks: per-rank parameter, gradient and optimizer-state bytes exactly, and the bytes each
collective moved within 5%."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from planner.plan import parallel

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ranks(world: int, tmp_path: Path) -> list[dict]:
    out = tmp_path / "ranks"
    procs = []
    port = _free_port()
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, "-m", "tests.probe.sharding_worker", str(world),
                                       str(port), str(out)], env=env, cwd=ROOT))
    for p in procs:
        assert p.wait(timeout=120) == 0
    return [json.loads(Path(f"{out}.{rank}").read_text()) for rank in range(world)]


@pytest.fixture(scope="module", params=[2, 4])
def ranks(request, tmp_path_factory):
    """(world size, what every rank recorded) for one FSDP2 and one DDP step."""
    return request.param, _ranks(request.param, tmp_path_factory.mktemp(f"world{request.param}"))


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["fsdp", "ddp"])
def test_layout_matches_real_sharding(layout, ranks):
    world, recorded = ranks
    ranks = [r[layout] for r in recorded]
    first = ranks[0]
    # fp32 end to end (no compute copy): what the CPU run holds.
    states = parallel.ModelStates(params=first["params"], trainable=first["params"],
                                  optimizer_bytes=8.0 * first["params"], compute_copy_bytes=0.0,
                                  largest_unit_params=first["largest_unit_params"], root_params=first["root_params"])
    memory = parallel.state_memory(states, layout, world)
    comm = parallel.collectives(states, layout, world)
    ring = (world - 1) / world
    for rank in ranks:
        assert rank["param_bytes"] == memory.params
        assert rank["grad_bytes"] == memory.grads
        assert rank["optimizer_bytes"] == memory.optimizer
        # measured: the gathered / scattered / reduced tensors; a ring moves (n-1)/n of each, x2 to all-reduce
        assert rank["all_gather"] * ring == pytest.approx(comm.all_gather, rel=0.05)
        assert rank["reduce_scatter"] * ring == pytest.approx(comm.reduce_scatter, rel=0.05)
        assert 2 * rank["all_reduce"] * ring == pytest.approx(comm.all_reduce, rel=0.05)

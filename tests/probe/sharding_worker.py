"""Run one training step of a small transformer under torch FSDP2 (`fully_shard`) or DDP on gloo
CPU ranks, and record per rank the bytes of parameters, gradients and optimizer state it holds
and the bytes of every collective it called. Used by test_sharding_check.py; run as
`RANK=r python -m tests.probe.sharding_worker WORLD PORT OUT` for each rank r."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

VOCAB, WIDTH, LAYERS, SEQ = 256, 64, 3, 16  # every dim 0 divisible by 2 and 4: shards are even


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, WIDTH)
        self.layers = nn.ModuleList(nn.TransformerEncoderLayer(WIDTH, 4, 4 * WIDTH, batch_first=True)
                                    for _ in range(LAYERS))
        self.head = nn.Linear(WIDTH, VOCAB, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return nn.functional.cross_entropy(self.head(x).flatten(0, 1), ids.flatten())


def _local(t: torch.Tensor) -> torch.Tensor:
    return t.to_local() if hasattr(t, "to_local") else t


def _nbytes(t: torch.Tensor) -> int:
    t = _local(t)
    return t.numel() * t.element_size()


def _count(counts: dict[str, int], name: str, which: str, fn: Any) -> Any:
    """Wrap a c10d function so each call adds its gathered / scattered tensor's bytes."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        tensor = kwargs.get(which, args[0 if which == "output" else 1] if len(args) > 1 else None)
        counts[name] += _nbytes(tensor)
        return fn(*args, **kwargs)

    return wrapped


def run(layout: str, world: int, rank: int) -> dict[str, Any]:
    counts = {"all_gather": 0, "reduce_scatter": 0, "all_reduce": 0}
    gather, scatter = dist.all_gather_single, dist.reduce_scatter_single
    dist.all_gather_single = _count(counts, "all_gather", "output", gather)
    dist.reduce_scatter_single = _count(counts, "reduce_scatter", "input", scatter)
    torch.manual_seed(0)
    model = Tiny()
    params = sum(p.numel() for p in model.parameters())
    root = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("layers."))
    largest = max(sum(p.numel() for p in layer.parameters()) for layer in model.layers)
    if layout == "fsdp":
        for layer in model.layers:
            fully_shard(layer)
        step_model: nn.Module = fully_shard(model)
    else:
        step_model = DistributedDataParallel(model)

        def hook(state, bucket):  # type: ignore[no-untyped-def]  # DDP checks the bucket's annotation
            counts["all_reduce"] += _nbytes(bucket.buffer())
            buffer = bucket.buffer().div_(world)
            return dist.all_reduce(buffer, async_op=True).get_future().then(lambda fut: fut.value()[0])

        step_model.register_comm_hook(None, hook)
    optimizer = torch.optim.AdamW(step_model.parameters())
    ids = torch.randint(0, VOCAB, (2, SEQ), generator=torch.Generator().manual_seed(rank))
    step_model(ids).backward()
    optimizer.step()
    moments = [v for state in optimizer.state.values() for k, v in state.items() if k in ("exp_avg", "exp_avg_sq")]
    result = {
        "params": params, "root_params": root, "largest_unit_params": largest,
        "param_bytes": sum(_nbytes(p) for p in step_model.parameters()),
        "grad_bytes": sum(_nbytes(p.grad) for p in step_model.parameters() if p.grad is not None),
        "optimizer_bytes": sum(_nbytes(v) for v in moments),
        **counts,
    }
    dist.all_gather_single, dist.reduce_scatter_single = gather, scatter
    dist.barrier()
    return result


if __name__ == "__main__":
    world, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rank = int(os.environ["RANK"])
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    results = {layout: run(layout, world, rank) for layout in ("fsdp", "ddp")}
    dist.destroy_process_group()
    with open(f"{out}.{rank}", "w") as fh:
        json.dump(results, fh)

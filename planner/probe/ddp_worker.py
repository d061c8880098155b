"""One rank of the DDP probe, started by torchrun: `-m planner.probe.ddp_worker REQUEST OUT_DIR`.

The ranks go through the phases in lock-step (every collective is called by all of them):
1. single rank: rank 0 alone times the plain step (no DDP) at each per-rank batch while the
   others wait at a barrier -- the one-device throughput the scaling efficiency divides by;
2. all-reduce: a buffer of the gradients' size, timed on its own (bus bandwidth);
3. noise scale, when asked: DDP training steps at the largest per-rank batch, each rank on its
   own draws; a comm hook reads each rank's local |g|² before DDP all-reduces the bucket;
4. per batch size: DDP steps, then the same steps under no_sync() (no all-reduce). no_sync
   lets the ranks' weights drift apart, which is why it comes after the noise steps.
Times are medians per rank, reported for the slowest rank. Rank 0 writes result.json; a rank
that fails writes rank<r>.error.json (one line) and exits 1, and torchrun stops the others.
"""

# No `from __future__ import annotations`: DDP checks the comm hook's annotations against the real types.

import datetime as dt
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel

from planner.contracts.probe import DdpMeasurement, DdpPoint, NoiseScale
from planner.errors import BadInput
from planner.models.bundle import Batch
from planner.models.messages import one_line
from planner.models.registry import load_model
from planner.probe.ddp import RESULT_FILE, DdpReply, DdpRequest, RankError, backend_for
from planner.probe.noise import LOSS_WINDOW, MIN_STEPS, NoiseScaleEstimator, set_learning_rate
from planner.probe.step import TrainStep

# Longer than the other ranks wait for rank 0's single-rank phase; a hung collective fails after it.
COLLECTIVE_TIMEOUT = dt.timedelta(minutes=10)
ALLREDUCE_WARMUP = 2
ALLREDUCE_REPEATS = 10
GLOBAL_SEED = 0


class LocalNorm:
    """Comm-hook state: this rank's Σg² over the buckets of one backward, before the all-reduce."""

    def __init__(self, device: torch.device):
        self.device = device
        self.measuring = False
        self.sqnorm = torch.zeros((), dtype=torch.float32, device=device)

    def start(self) -> None:
        self.measuring = True
        self.sqnorm = torch.zeros((), dtype=torch.float32, device=self.device)

    def stop(self) -> torch.Tensor:
        self.measuring = False
        return self.sqnorm


def local_norm_hook(state: LocalNorm, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """DDP's default hook (average over the ranks), after adding the bucket's local Σg² when measuring."""
    if state.measuring:
        state.sqnorm += bucket.buffer().float().square().sum()
    world = dist.group.WORLD
    assert world is not None  # the process group is up before DDP wraps the model
    return allreduce_hook(world, bucket)


def _seed_global_rngs() -> None:
    random.seed(GLOBAL_SEED)
    np.random.seed(GLOBAL_SEED)
    torch.manual_seed(GLOBAL_SEED)


class RankProbe:
    def __init__(self, request: DdpRequest, rank: int, world: int, local_rank: int):
        self.request = request
        self.config = request.config
        self.rank, self.world = rank, world
        self.device = torch.device("cuda", local_rank) if request.device_type == "cuda" else torch.device("cpu")
        self.phase = "loading the model"  # named in the error line if this rank fails
        self.warnings: list[str] = []

    def run(self) -> DdpReply:
        c = self.config
        bundle = load_model(c.model, seq_len=c.seq_len, checkpointing=c.checkpointing, data=c.data)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.phase = "joining the process group"
        dist.init_process_group(backend_for(self.device.type), timeout=COLLECTIVE_TIMEOUT)
        sizes = self.request.batch_sizes

        self.phase = "timing one rank alone"
        # Every rank draws these batches, though only rank 0 uses them: the batch makers' streams
        # must stay in step across the ranks for _own_batch to hand each rank its own draws.
        batches = {b: bundle.make_batch(b, self.device) for b in sizes}
        single: dict[int, float] = {}
        if self.rank == 0:
            alone = TrainStep(bundle, self.device, c.precision, c.kernels)
            single = {b: self._median_step_s(alone, batches[b], collective=False) for b in sizes}
            del alone  # its optimizer state: the DDP phase starts fresh on every rank alike
        del batches
        self._free()
        self._barrier()
        _seed_global_rngs()  # rank 0's steps drew from them (dropout): back in step for batch makers using them

        self.phase = "wrapping the model in DDP"
        step = TrainStep(bundle, self.device, c.precision, c.kernels)
        cuda = self.device.type == "cuda"
        ddp = DistributedDataParallel(step.model, device_ids=[self.device.index] if cuda else None,
                                      gradient_as_bucket_view=True)  # no second copy of the gradients
        norms = LocalNorm(self.device)
        ddp.register_comm_hook(norms, local_norm_hook)
        step.model = ddp  # the bundle's loss calls model(...): DDP's forward and its backward hooks

        self.phase = "timing the all-reduce"
        grads = [p for p in ddp.module.parameters() if p.requires_grad]
        grad_bytes = sum(p.numel() * p.element_size() for p in grads)
        allreduce_s = self._allreduce_s(grad_bytes)

        noise_scale = None
        if c.noise_steps:
            self.phase = "measuring the noise scale"
            noise_scale = self._noise_scale(step, norms, grads, sizes[-1])

        times: list[float] = []
        for b in sizes:
            self.phase = f"timing DDP steps at batch {b} per rank"
            batch = bundle.make_batch(b, self.device)
            times.append(self._median_step_s(step, batch, collective=True))
            with ddp.no_sync():
                times.append(self._median_step_s(step, batch, collective=True))
        slowest = self._slowest(times)

        points = []
        for b, ddp_s, local_s in zip(sizes, slowest[0::2], slowest[1::2], strict=True):
            alone_s = single.get(b)
            points.append(DdpPoint(batch_per_rank=b, step_time_s=ddp_s, no_sync_step_time_s=local_s,
                                   single_step_time_s=alone_s, samples_per_s=self.world * b / ddp_s,
                                   scaling_efficiency=alone_s / ddp_s if alone_s else None))
        # The part of the all-reduce DDP did not hide behind backward shows up as extra step time.
        exposed = max(0.0, slowest[-2] - slowest[-1])
        ring_bytes = 2 * (self.world - 1) / self.world * grad_bytes  # what each rank sends in a ring all-reduce
        measurement = DdpMeasurement(
            world_size=self.world, backend=backend_for(self.device.type), grad_bytes=grad_bytes,
            allreduce_s=allreduce_s, bus_bandwidth_gbs=ring_bytes / allreduce_s / 1e9,
            points=points, scaling_efficiency=points[-1].scaling_efficiency,
            overlap_fraction=min(1.0, max(0.0, 1 - exposed / allreduce_s)), noise_scale=noise_scale,
        )
        return DdpReply(measurement=measurement, warnings=self.warnings)

    # -- phases ------------------------------------------------------------------------------

    def _allreduce_s(self, grad_bytes: int) -> float:
        """Median seconds of one all_reduce of grad_bytes (fp32 words: the bytes, not the dtype, set the cost)."""
        buffer = torch.zeros(max(1, grad_bytes // 4), dtype=torch.float32, device=self.device)
        for _ in range(ALLREDUCE_WARMUP):
            dist.all_reduce(buffer)
        times = []
        for _ in range(ALLREDUCE_REPEATS):
            self._barrier()  # all ranks start together: the time is the collective's, not a straggler's
            began = self._now()
            dist.all_reduce(buffer)
            times.append(self._now() - began)
        return self._slowest([statistics.median(times)])[0]

    def _noise_scale(self, step: TrainStep, norms: LocalNorm, grads: list[torch.nn.Parameter],
                     batch_size: int) -> NoiseScale | None:
        """B_small = the per-rank batch (each rank's local gradient), B_big = world x it (all-reduced)."""
        c = self.config
        lr = set_learning_rate(step, c.noise_lr)
        trained = self._train_before_measuring(step, batch_size) if c.noise_train_steps else 0
        local_sq, global_sq, losses = [], [], []
        for done in range(c.noise_steps):
            if done >= MIN_STEPS and self._past_deadline():
                self.warnings.append(f"DDP noise scale: time limit reached after {done} of {c.noise_steps} steps")
                break
            norms.start()
            losses.append(step.forward_backward(self._own_batch(step, batch_size)).float())
            local_sq.append(norms.stop())
            global_sq.append(torch.stack([p.grad.float().square().sum() for p in grads if p.grad is not None]).sum())
            step.optimizer_step()
        per_step = torch.stack([torch.stack(local_sq), torch.stack(losses)])
        dist.all_reduce(per_step)
        mean_local, mean_loss = (per_step / self.world).tolist()
        estimator = NoiseScaleEstimator(batch_size, self.world * batch_size, c.noise_ema, method="DDP ranks")
        for small, big in zip(mean_local, torch.stack(global_sq).tolist(), strict=True):
            estimator.add(small, big)
        outcome = estimator.outcome()
        self.warnings += [f"DDP {warning}" for warning in outcome.warnings]
        if outcome.noise_scale is None:
            return None
        return outcome.noise_scale.model_copy(
            update={"lr": lr, "trained_steps": trained, "train_loss": estimator.weighted_mean(mean_loss)})

    def _train_before_measuring(self, step: TrainStep, batch_size: int) -> int:
        """DDP steps towards noise_target_loss (the ranks' mean loss), at most noise_train_steps; the number taken."""
        c = self.config
        losses: list[float] = []
        for done in range(c.noise_train_steps):
            if self._past_deadline():
                self.warnings.append(f"DDP noise scale: the training before it reached the time limit after "
                                     f"{done} of {c.noise_train_steps} steps")
                return done
            loss = step.run(self._own_batch(step, batch_size)).float()
            dist.all_reduce(loss)  # every rank sees the same mean, so they stop together
            losses.append(loss.item() / self.world)
            target = c.noise_target_loss
            if target is not None and len(losses) >= LOSS_WINDOW and float(np.mean(losses[-LOSS_WINDOW:])) <= target:
                return done + 1
        return c.noise_train_steps

    def _past_deadline(self) -> bool:
        deadline = self.request.noise_deadline
        return self._any(deadline is not None and time.time() > deadline)

    def _own_batch(self, step: TrainStep, batch_size: int) -> Batch:
        """This rank's share of `world` fresh draws: the bundles' batch makers are seeded alike in
        every process, so each rank taking its own of the draws gives independent batches."""
        draws = [step.bundle.make_batch(batch_size, self.device) for _ in range(self.world)]
        return draws[self.rank]

    # -- timing and collectives --------------------------------------------------------------

    def _median_step_s(self, step: TrainStep, batch: Batch, collective: bool) -> float:
        """Warm-up steps, then timed ones until timed_steps or point_time_limit_s (the ranks agree)."""
        c = self.config
        for _ in range(c.warmup_steps):
            step.run(batch)
        times: list[float] = []
        began = time.perf_counter()
        while len(times) < c.timed_steps:
            over = bool(times) and time.perf_counter() - began > c.point_time_limit_s
            if collective:
                over = self._any(over)
            if over:
                break
            start = self._now()
            step.run(batch)
            times.append(self._now() - start)
        return statistics.median(times)

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _any(self, flag: bool) -> bool:
        """True on every rank when it is True on any: keeps the ranks' loops in step."""
        value = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def _slowest(self, seconds: list[float]) -> list[float]:
        values = torch.tensor(seconds, dtype=torch.float64, device=self.device)
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return values.tolist()

    def _barrier(self) -> None:
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def _free(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def main(argv: list[str]) -> int:
    request = DdpRequest.model_validate_json(Path(argv[0]).read_text())
    out_dir = Path(argv[1])
    rank, world, local_rank = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    probe = RankProbe(request, rank, world, local_rank)
    try:
        reply = probe.run()
        if rank == 0:
            (out_dir / RESULT_FILE).write_text(reply.model_dump_json())
        return 0
    except BaseException as exc:  # anything, Ctrl-C included: one line for the parent, no traceback
        error = RankError(rank=rank, at=time.time(), message=f"{probe.phase}: {one_line(exc)}",
                          bad_input=isinstance(exc, BadInput))
        (out_dir / f"rank{rank}.error.json").write_text(error.model_dump_json())
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: gloo's threads, destroyed there in no fixed order, abort a CPU rank
    # now and then ("terminate called without an active exception") after its work is done.
    os._exit(code)

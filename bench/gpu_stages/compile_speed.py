"""GPU-check stage `compile`: GPT-2 small eager vs torch.compile at one batch, compile time apart.

    python bench/gpu_stages/compile_speed.py --out DIR          (CUDA: about 60-80 s on an H200)
    python bench/gpu_stages/compile_speed.py --out DIR --tiny --backend aot_eager   (gpt-tiny, CPU)

One bf16 training step (autocast forward and loss, backward, AdamW(fused)) of the probe's
GPT-2 small at batch 16, sequence 1024. Eager: 2 warm-up steps, 5 timed (CUDA events). Compiled:
`torch.compile(model)`; the first step's wall time minus an eager step is the compile time,
then 2 warm-up steps and 5 timed. The speed-up is eager / compiled median step time. These are
the numbers a `--compile` probe option and its GPU priors would start from; batchfit has no
such option yet.
"""

from __future__ import annotations

import argparse
import statistics
import time

import stage_common  # first: it puts the repository on sys.path
import torch

from planner.models.registry import load_model

STAGE = "compile"
GPU_CASE = ("gpt2-small", 16)
TINY_CASE = ("gpt-tiny", 2)
WARMUP, TIMED = 2, 5


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="inductor", help="torch.compile backend (the CPU tests use aot_eager)")


def measure(name: str, batch_size: int, device: torch.device, backend: str) -> dict:
    bundle = load_model(name)
    model = bundle.model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda" or None)
    batch = bundle.make_batch(batch_size, device)

    def step(net: torch.nn.Module) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = bundle.loss(net, batch)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP):
        step(model)
    eager = stage_common.step_seconds(lambda: step(model), device, TIMED)
    compiled_model = torch.compile(model, backend=backend)
    stage_common.synchronize(device)
    began = time.perf_counter()
    step(compiled_model)
    stage_common.synchronize(device)
    first_s = time.perf_counter() - began
    for _ in range(WARMUP):
        step(compiled_model)
    compiled = stage_common.step_seconds(lambda: step(compiled_model), device, TIMED)
    eager_s, compiled_s = statistics.median(eager), statistics.median(compiled)
    return {"model": name, "batch": batch_size, "precision": "bf16", "backend": backend,
            "eager_step_s": eager_s, "eager_step_range_s": [min(eager), max(eager)],
            "compiled_step_s": compiled_s, "compiled_step_range_s": [min(compiled), max(compiled)],
            "first_compiled_step_s": first_s, "compile_s": max(0.0, first_s - eager_s),
            "speedup": eager_s / compiled_s, "samples_per_s_eager": batch_size / eager_s,
            "samples_per_s_compiled": batch_size / compiled_s}


def main(argv: list[str] | None = None) -> int:
    args = stage_common.parse_args(__doc__.splitlines()[0], _arguments, argv)
    device = torch.device(args.device)
    name, batch_size = TINY_CASE if args.tiny else GPU_CASE
    row = measure(name, batch_size, device, args.backend)
    print(f"{name} B={batch_size}: eager {row['eager_step_s']:.4f} s, compiled {row['compiled_step_s']:.4f} s "
          f"({row['speedup']:.2f}x), compile {row['compile_s']:.1f} s")
    stage_common.write(args.out, STAGE, {"header": stage_common.header(STAGE, device), "warmup_steps": WARMUP,
                                         "timed_steps": TIMED, "rows": [row]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

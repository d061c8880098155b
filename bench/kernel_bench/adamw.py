"""AdamW step bandwidth: batchfit FusedAdamW against torch AdamW(foreach=True) and (fused=True).

Usage: python bench/kernel_bench/adamw.py --out adamw.json   (H100/H200: well under 2 minutes)
       python bench/kernel_bench/adamw.py --smoke            (tiny sizes; CPU is fine)
       python bench/kernel_bench/adamw.py --graph --out adamw-graph.json   (CUDA only, ~1 minute)

--graph times the step captured in a CUDA graph (FusedAdamW.use_flat_grads + capture, one
graph_step() between CUDA events: the same one-step clock as the default mode, now without
the host's launch work; "-checked" rows include graph_step's address checks, the others
pass check=False) against FusedAdamW's eager step, torch AdamW(fused=True), and torch
AdamW(fused=True, capturable=True) captured the same way, on GPT-2 small and medium. It also
checks the graphed run's params equal the eager run's bit for bit after the same steps.

Every row's GB/s counts the algorithmic minimum traffic of its step, so rows compare as speeds:
  fp32:              28 bytes/param = p, g, m, v read (16) + p, m, v written (12)
  bf16 + fp32 master: 28 bytes/param = g (2) + master, m, v (12) read + master, m, v (12) + p (2) written
  + clipping:        +4 (fp32) / +2 (bf16) bytes/param: the norm pass reads the grads once more
and "of copy" divides by the device-to-device copy bandwidth measured in the same run.
torch has no bf16-with-fp32-master AdamW: its bf16 rows run AdamW on fp32 master params with
fp32 grads already in hand (the bf16 → fp32 grad cast is not timed, in torch's favour) followed
by a copy of the masters into the bf16 params.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable

import bench_common  # first: it puts the repository on sys.path
import torch

import kernels

BYTES_PER_PARAM = 28  # see the module docstring
CLIP_EXTRA_BYTES = {torch.float32: 4, torch.bfloat16: 2}  # norm pass: grads read again
TARGET_FRACTION_OF_COPY = 0.85
GRAPH_TARGET_FRACTION_OF_COPY = 0.95  # issue 20: the one-step clock with the host work gone
HYPER = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)


def gpt2_shapes(d_model: int, n_layer: int, vocab: int = 50257, n_ctx: int = 1024) -> list[tuple[int, ...]]:
    """GPT-2 parameter shapes (HF layout, tied LM head): embeddings, then per layer
    ln_1, attn.c_attn (qkv), attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj (weights and biases), then ln_f."""
    d = d_model
    layer = [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return [(vocab, d), (n_ctx, d)] + layer * n_layer + [(d,), (d,)]


FULL_SETS = {
    "gpt2-small": gpt2_shapes(768, 12),
    "gpt2-medium": gpt2_shapes(1024, 24),
    "single-1e9": [(10**9,)],
}
SMOKE_SETS = {
    "gpt2-tiny": gpt2_shapes(64, 2, vocab=1000, n_ctx=128),
    "single-1e5": [(10**5,)],
}


def make_params(shapes, dtype, device) -> list[torch.nn.Parameter]:
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.randn(shape, device=device, dtype=dtype) * 0.02)
        p.grad = torch.randn(shape, device=device, dtype=dtype) * 1e-3
        params.append(p)
    return params


def time_batchfit(shapes, dtype, device, reps, clip: bool) -> float:
    params = make_params(shapes, dtype, device)
    optimizer = kernels.FusedAdamW(params, **HYPER, max_grad_norm=1.0 if clip else None)
    return bench_common.device_time_ms(optimizer.step, device, reps=reps)


def time_torch(shapes, dtype, device, reps, variant: str) -> float:
    """torch AdamW(foreach|fused); for bf16, on fp32 masters plus the copy into bf16 params."""
    masters = make_params(shapes, torch.float32, device)
    optimizer = torch.optim.AdamW(masters, **HYPER, **{variant: True})
    if dtype == torch.float32:
        return bench_common.device_time_ms(optimizer.step, device, reps=reps)
    low_precision = [m.detach().to(dtype) for m in masters]

    def step() -> None:
        optimizer.step()
        torch._foreach_copy_(low_precision, [m.detach() for m in masters])

    return bench_common.device_time_ms(step, device, reps=reps)


def _graphed(step: Callable[[], None]) -> Callable[[], None]:
    """`step` warmed up on a side stream (torch's recipe), captured, and returned as a replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def batchfit_graph_runs(shapes, dtype, device, reps) -> tuple[dict[str, float], float]:
    """ms per step, graphed (unchecked, checked) and eager, and max |graphed − eager| after."""
    graphed_params, eager_params = make_params(shapes, dtype, device), make_params(shapes, dtype, device)
    with torch.no_grad():
        for g, e in zip(graphed_params, eager_params):
            e.copy_(g)
            e.grad.copy_(g.grad)
    graphed, eager = kernels.FusedAdamW(graphed_params, **HYPER), kernels.FusedAdamW(eager_params, **HYPER)
    graphed.use_flat_grads()
    graphed.step()  # compiles the kernels and creates the state
    eager.step()
    graphed.capture()
    ms = {
        "batchfit-graph": bench_common.device_time_ms(lambda: graphed.graph_step(check=False), device, reps=reps),
        "batchfit-graph-checked": bench_common.device_time_ms(graphed.graph_step, device, reps=reps),
        "batchfit-eager": bench_common.device_time_ms(eager.step, device, reps=reps // 2),
    }
    warmup = 3  # device_time_ms's: the same number of steps on both sides, so their params must agree
    for _ in range(2 * (warmup + reps) - (warmup + reps // 2)):
        eager.step()
    difference = max((g - e).abs().max().item() for g, e in zip(graphed_params, eager_params))
    return ms, difference


def torch_graph_ms(shapes, dtype, device, reps) -> float:
    """torch AdamW(fused, capturable) captured in a graph; bf16 as in time_torch."""
    masters = make_params(shapes, torch.float32, device)
    optimizer = torch.optim.AdamW(masters, **HYPER, fused=True, capturable=True)
    low_precision = [m.detach().to(dtype) for m in masters] if dtype != torch.float32 else None

    def step() -> None:
        optimizer.step()
        if low_precision is not None:
            torch._foreach_copy_(low_precision, [m.detach() for m in masters])

    return bench_common.device_time_ms(_graphed(step), device, reps=reps)


def graph_runs(shapes, dtype, device, reps) -> tuple[dict[str, float], float]:
    """ms per step of each implementation, and max |graphed − eager| over the params after."""
    ms, difference = batchfit_graph_runs(shapes, dtype, device, reps)
    _free(device)
    ms["torch-fused"] = time_torch(shapes, dtype, device, reps, "fused")
    _free(device)
    ms["torch-fused-graph"] = torch_graph_ms(shapes, dtype, device, reps)
    _free(device)
    return ms, difference


def main_graph(args) -> int:
    device = torch.device(args.device)
    if device.type != "cuda":
        print("adamw.py --graph needs CUDA (it times CUDA graphs); nothing measured", file=sys.stderr)
        return 2
    copy_gbps = bench_common.copy_bandwidth_gbps(device, 2**28)
    results = {
        **bench_common.environment(device),
        "mode": "graph",
        "copy_bandwidth_gbps": copy_gbps,
        "bytes_per_param": BYTES_PER_PARAM,
        "targets": {"fraction_of_copy": GRAPH_TARGET_FRACTION_OF_COPY, "vs_torch_fused": 1.0},
        "cases": [],
    }
    for set_name in ("gpt2-small", "gpt2-medium"):
        shapes = FULL_SETS[set_name]
        numel = sum(torch.Size(s).numel() for s in shapes)
        for dtype in (torch.float32, torch.bfloat16):
            ms, difference = graph_runs(shapes, dtype, device, reps=50)
            rows = []
            for impl, step_ms in ms.items():
                gbps = numel * BYTES_PER_PARAM / (step_ms * 1e-3) / 1e9
                rows.append({
                    "params": set_name, "numel": numel, "tensors": len(shapes),
                    "dtype": "fp32" if dtype == torch.float32 else "bf16+fp32-master", "impl": impl,
                    "ms": step_ms, "gbps": gbps, "fraction_of_copy": gbps / copy_gbps,
                    "speedup_vs_torch_fused": ms["torch-fused"] / step_ms,
                    "speedup_vs_torch_fused_graph": ms["torch-fused-graph"] / step_ms,
                })  # fmt: skip
            ours = rows[0]
            ours["max_abs_diff_vs_eager"] = difference
            ours["meets_targets"] = (ours["fraction_of_copy"] >= GRAPH_TARGET_FRACTION_OF_COPY
                                     and ours["speedup_vs_torch_fused"] >= 1.0 and difference == 0.0)
            results["cases"].extend(rows)
    print(f"{results['device']}: copy {copy_gbps:.0f} GB/s (read + write); one graph_step() between CUDA events")
    columns = ["params", "dtype", "impl", "ms", "gbps", "fraction_of_copy", "speedup_vs_torch_fused",
               "speedup_vs_torch_fused_graph", "max_abs_diff_vs_eager", "meets_targets"]
    bench_common.report(results, columns, args.out)
    return 0


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graph", action="store_true", help="the CUDA-graph step vs torch fused (CUDA only)")


def main(argv: list[str] | None = None) -> int:
    args = bench_common.parse_args(__doc__.splitlines()[0], _arguments, argv)
    if args.graph:
        return main_graph(args)
    device = torch.device(args.device)
    param_sets = SMOKE_SETS if args.smoke else FULL_SETS
    reps = 2 if args.smoke else 20
    copy_gbps = bench_common.copy_bandwidth_gbps(device, 2**20 if args.smoke else 2**28)
    results = {
        **bench_common.environment(device),
        "copy_bandwidth_gbps": copy_gbps,
        "bytes_per_param": BYTES_PER_PARAM,
        "targets": {"fraction_of_copy": TARGET_FRACTION_OF_COPY, "vs_torch_fused": 1.0},
        "cases": [],
    }
    for set_name, shapes in param_sets.items():
        numel = sum(torch.Size(s).numel() for s in shapes)
        for dtype in (torch.float32, torch.bfloat16):
            runs = {
                "batchfit": (time_batchfit, dict(clip=False)),
                "batchfit+clip": (time_batchfit, dict(clip=True)),
                "torch-foreach": (time_torch, dict(variant="foreach")),
                "torch-fused": (time_torch, dict(variant="fused")),
            }
            rows = {}
            for impl, (timer, options) in runs.items():
                ms = timer(shapes, dtype, device, reps, **options)
                _free(device)
                bytes_moved = numel * (BYTES_PER_PARAM + (CLIP_EXTRA_BYTES[dtype] if impl.endswith("clip") else 0))
                gbps = bytes_moved / (ms * 1e-3) / 1e9
                rows[impl] = {
                    "params": set_name,
                    "numel": numel,
                    "tensors": len(shapes),
                    "dtype": "fp32" if dtype == torch.float32 else "bf16+fp32-master",
                    "impl": impl,
                    "ms": ms,
                    "gbps": gbps,
                    "fraction_of_copy": gbps / copy_gbps,
                }
            fused_ms = rows["torch-fused"]["ms"]
            for row in rows.values():
                row["speedup_vs_torch_fused"] = fused_ms / row["ms"]
            ours = rows["batchfit"]
            ours["meets_targets"] = (
                ours["fraction_of_copy"] >= TARGET_FRACTION_OF_COPY and ours["speedup_vs_torch_fused"] >= 1.0
            )
            results["cases"].extend(rows.values())
    backend = results["kernels_backend"]
    print(f"{results['device']}: copy {copy_gbps:.0f} GB/s (read + write); kernels backend {backend}")
    columns = ["params", "dtype", "impl", "ms", "gbps", "fraction_of_copy", "speedup_vs_torch_fused", "meets_targets"]
    bench_common.report(results, columns, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

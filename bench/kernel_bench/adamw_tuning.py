"""Where FusedAdamW's time goes on the many-tensor GPT-2 sets, and which launch shape is fastest.

Usage: python bench/kernel_bench/adamw_tuning.py --out adamw-tuning.json   (CUDA, about a minute)
       python bench/kernel_bench/adamw_tuning.py --smoke                   (tiny, any device)

adamw.py times one step() between two CUDA events and waits after each, so the host's launch
work (Python, table checks) sits inside the timed region with the GPU idle. In training the
host runs ahead of the GPU and that work hides behind the previous kernels. Three clocks:
  synced_ms:    one step between events, synchronised after each (adamw.py's number);
  pipelined_ms: 20 steps back to back between two events, divided by 20 (host work overlapped);
  kernel_ms:    the GPU time of the step's kernels alone, from the CUDA profiler.
Each for the update launch shapes in SHAPES (elements per program x warps), and for torch
AdamW(fused=True). GB/s counts 28 bytes/param (see adamw.py).
"""

from __future__ import annotations

import bench_common  # first: it puts the repository on sys.path
import torch
from adamw import FULL_SETS, SMOKE_SETS, make_params

import kernels.adamw as adamw_module
from kernels import FusedAdamW

BYTES_PER_PARAM = 28
SHAPES = [(2048, 4), (2048, 8), (4096, 4), (4096, 8), (8192, 8), (1024, 4)]
HYPER = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
PIPELINE = 20


def pipelined_ms(step, device: torch.device) -> float:
    for _ in range(3):
        step()
    bench_common.synchronize(device)
    if device.type != "cuda":
        return bench_common.device_time_ms(step, device, reps=PIPELINE)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(PIPELINE):
        step()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / PIPELINE


def kernel_ms(step, device: torch.device) -> float | None:
    """GPU time of the kernels one step launches, from the profiler (None off CUDA)."""
    if device.type != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(PIPELINE):
            step()
        torch.cuda.synchronize()
    total_us = sum(e.self_device_time_total for e in prof.key_averages())
    return total_us / 1e3 / PIPELINE


def measure(step, device, numel) -> dict:
    row = {"synced_ms": bench_common.device_time_ms(step, device, reps=PIPELINE),
           "pipelined_ms": pipelined_ms(step, device), "kernel_ms": kernel_ms(step, device)}
    for clock in ("synced", "pipelined", "kernel"):
        ms = row[f"{clock}_ms"]
        row[f"{clock}_gbps"] = None if ms is None else numel * BYTES_PER_PARAM / (ms * 1e-3) / 1e9
    return row


def main() -> None:
    args = bench_common.parse_args(__doc__.splitlines()[0])
    device = torch.device(args.device)
    sets = {"gpt2-tiny": SMOKE_SETS["gpt2-tiny"]} if args.smoke else \
        {name: FULL_SETS[name] for name in ("gpt2-small", "gpt2-medium")}
    shapes = SHAPES[:2] if args.smoke else SHAPES
    copy_gbps = bench_common.copy_bandwidth_gbps(device, 2**20 if args.smoke else 2**28)
    results = {**bench_common.environment(device), "copy_bandwidth_gbps": copy_gbps, "cases": []}
    for set_name, param_shapes in sets.items():
        numel = sum(torch.Size(s).numel() for s in param_shapes)
        for dtype in (torch.float32, torch.bfloat16):
            for block, warps in shapes:
                adamw_module.UPDATE_LAUNCH = adamw_module.UpdateLaunch(block=block, num_warps=warps)
                optimizer = FusedAdamW(make_params(param_shapes, dtype, device), **HYPER)
                results["cases"].append({"params": set_name, "dtype": str(dtype).removeprefix("torch."),
                                         "impl": f"batchfit block={block} warps={warps}",
                                         **measure(optimizer.step, device, numel)})
            masters = make_params(param_shapes, torch.float32, device)
            fused = torch.optim.AdamW(masters, **HYPER, fused=True)
            if dtype == torch.float32:
                step = fused.step
            else:
                low = [m.detach().to(dtype) for m in masters]

                def step() -> None:
                    fused.step()
                    torch._foreach_copy_(low, [m.detach() for m in masters])
            results["cases"].append({"params": set_name, "dtype": str(dtype).removeprefix("torch."),
                                     "impl": "torch fused", **measure(step, device, numel)})
    adamw_module.UPDATE_LAUNCH = adamw_module.UpdateLaunch()
    for row in results["cases"]:
        row["kernel_fraction_of_copy"] = row["kernel_gbps"] / copy_gbps if row["kernel_gbps"] else None
    print(f"copy bandwidth {copy_gbps:,.0f} GB/s")
    bench_common.report(results, ["params", "dtype", "impl", "synced_ms", "pipelined_ms", "kernel_ms",
                                  "kernel_fraction_of_copy"], args.out)


if __name__ == "__main__":
    main()

"""Collate end to end: batchfit's fused GPU collate against the usual CPU collate + copy.

Usage: python bench/kernel_bench/collate.py --out collate.json   (CUDA machine, a few seconds)
       python bench/kernel_bench/collate.py --smoke             (tiny sizes; CPU is fine)

Each case times, on the host clock, from CPU-side inputs to outputs ready on the device:
  reference  the CPU path: pad_sequence + masks + position ids + shifted labels (tokens) or
             normalise + HWC → CHW (images) with torch on the CPU, then `.to(device)`;
  batchfit   copy the raw inputs (pinned, as a DataLoader with pin_memory=True gives them)
             to the device, then one fused kernel there.
Tokens: 64 sequences up to 2048 tokens, lengths log-normal around 600 (a realistic spread).
Images: 256 × 224 × 224 × 3 uint8 to fp32 (B, C, H, W). Target: batchfit ≥ 5× the reference.
"""

from __future__ import annotations

import itertools

import bench_common  # first: it puts the repository on sys.path
import torch
from torch.nn.utils.rnn import pad_sequence

import kernels

TARGET_SPEEDUP = 5.0
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def token_batch(batch: int, max_len: int, pin: bool) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.empty(batch).log_normal_(mean=6.4, std=0.8, generator=generator)  # median ≈ 600
    lengths = lengths.clamp(8, max_len).long()
    offsets = torch.zeros(batch + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)
    flat = torch.randint(0, 50257, (int(offsets[-1]),), generator=generator)
    return (flat.pin_memory() if pin else flat), offsets


def _sequences(flat: torch.Tensor, offsets: torch.Tensor, max_len: int) -> list[torch.Tensor]:
    bounds = offsets.tolist()
    return [flat[start:end][:max_len] for start, end in itertools.pairwise(bounds)]


def reference_padded(flat, offsets, max_len: int, device) -> dict[str, torch.Tensor]:
    input_ids = pad_sequence(_sequences(flat, offsets, max_len), batch_first=True, padding_value=0)
    lengths = (offsets[1:] - offsets[:-1]).clamp(max=max_len)
    attention_mask = (torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]).long()
    position_ids = torch.arange(input_ids.shape[1])[None, :] * attention_mask
    labels = torch.full_like(input_ids, kernels.IGNORE_INDEX)
    labels[:, :-1] = torch.where(attention_mask[:, 1:].bool(), input_ids[:, 1:], kernels.IGNORE_INDEX)
    out = dict(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, labels=labels)
    return {key: value.to(device) for key, value in out.items()}


def reference_packed(flat, offsets, max_len: int, device) -> dict[str, torch.Tensor]:
    sequences = _sequences(flat, offsets, max_len)
    ignore = torch.tensor([kernels.IGNORE_INDEX])
    out = {
        "input_ids": torch.cat(sequences)[None],
        "position_ids": torch.cat([torch.arange(len(s)) for s in sequences])[None],
        "labels": torch.cat([torch.cat([s[1:], ignore]) if len(s) else s for s in sequences])[None],
        "cu_seqlens": torch.cumsum(torch.tensor([0] + [len(s) for s in sequences]), 0).int(),
    }
    return {key: value.to(device) for key, value in out.items()}


def reference_images(images: torch.Tensor, device) -> torch.Tensor:
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    return ((images.float() / 255.0 - mean) / std).permute(0, 3, 1, 2).contiguous().to(device)


def _same(ours, ref) -> bool:
    if isinstance(ours, dict):
        return ours.keys() == ref.keys() and all(_same(ours[k], ref[k]) for k in ours)
    return ours.shape == ref.shape and torch.allclose(ours.float(), ref.float(), atol=1e-5, rtol=1e-5)


def main() -> None:
    args = bench_common.parse_args(__doc__.splitlines()[0])
    device = torch.device(args.device)
    pin = device.type == "cuda"
    batch, max_len = (8, 128) if args.smoke else (64, 2048)
    image_shape = (4, 32, 32, 3) if args.smoke else (256, 224, 224, 3)
    flat, offsets = token_batch(batch, max_len, pin)
    images = torch.randint(0, 256, image_shape, dtype=torch.uint8)
    images = images.pin_memory() if pin else images

    cases = {
        f"tokens-padded {batch}x{max_len}": (
            lambda: reference_padded(flat, offsets, max_len, device),
            lambda: kernels.collate_tokens(flat, offsets, max_len=max_len, device=device),
        ),
        f"tokens-packed {batch}x{max_len}": (
            lambda: reference_packed(flat, offsets, max_len, device),
            lambda: kernels.collate_packed(flat, offsets, max_len=max_len, device=device),
        ),
        "images {}x{}x{}x{} uint8".format(*image_shape): (
            lambda: reference_images(images, device),
            lambda: kernels.collate_images(images, IMAGENET_MEAN, IMAGENET_STD, device=device),
        ),
    }
    results = {**bench_common.environment(device), "targets": {"speedup": TARGET_SPEEDUP}, "cases": []}
    reps = 2 if args.smoke else 10
    for name, (reference, ours) in cases.items():
        if not _same(ours(), reference()):
            raise AssertionError(f"{name}: batchfit and the reference disagree")
        reference_ms = bench_common.wall_time_ms(reference, device, reps=reps)
        ours_ms = bench_common.wall_time_ms(ours, device, reps=reps)
        results["cases"].append(
            {
                "case": name,
                "reference_ms": reference_ms,
                "batchfit_ms": ours_ms,
                "speedup": reference_ms / ours_ms,
                "meets_target": reference_ms / ours_ms >= TARGET_SPEEDUP,
            }
        )
    print(f"{results['device']}: kernels backend {results['kernels_backend']}")
    bench_common.report(results, ["case", "reference_ms", "batchfit_ms", "speedup", "meets_target"], args.out)


if __name__ == "__main__":
    main()

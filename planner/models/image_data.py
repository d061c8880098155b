"""A generated, learnable image task for the vision presets: procedurally drawn shapes.

Ten classes: five shapes (disk, square, triangle, ring, cross) in two colour families (warm,
cool), at random positions, sizes and tints on a noisy background. The data is synthetic
(say so in the report); the task is learnable, so a loss curve means something. Images are
drawn once into a pool of uint8 HWC arrays and batches are sampled from it, so making a batch
costs a gather, and `kernels.collate_images` turns them into normalised float CHW on the device.
"""

from __future__ import annotations

from typing import Literal

import functools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CLASSES = 10
POOL = 256  # distinct images drawn once; batches sample from them with replacement
MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics, as the presets' published shapes assume
STD = (0.229, 0.224, 0.225)
_CHUNK = 32  # images drawn per vectorised pass, bounds the float32 scratch to ~32*H*W*4 bytes each


def _shape_masks(u: np.ndarray, v: np.ndarray) -> list[np.ndarray]:
    """Inside-masks of the five shapes in unit coordinates (u, v) around each shape's centre."""
    r2 = u * u + v * v
    au, av = np.abs(u), np.abs(v)
    return [
        r2 <= 1.0,
        np.maximum(au, av) <= 0.8,
        (v <= 0.7) & (v >= 1.6 * au - 0.9),
        (r2 <= 1.0) & (r2 >= 0.45),
        ((au <= 0.25) & (av <= 0.9)) | ((av <= 0.25) & (au <= 0.9)),
    ]


class ShapesSource:
    """A pool of POOL labelled images of size `image` x `image`, drawn on first use."""

    kind: Literal["synthetic"] = "synthetic"

    def __init__(self, image: int, seed: int):
        self.image = image
        self.seed = seed
        self.description = f"procedurally drawn shapes, {CLASSES} classes, {image}x{image} RGB (generated)"

    @functools.cached_property
    def pool(self) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images [POOL, H, W, 3], int64 labels [POOL])."""
        rng = np.random.default_rng(self.seed)
        size = self.image
        labels = rng.integers(0, CLASSES, POOL)
        images = rng.integers(0, 60, (POOL, size, size, 3), dtype=np.uint8)  # dark noisy background
        grid = np.arange(size, dtype=np.float32)
        for lo in range(0, POOL, _CHUNK):
            n = min(_CHUNK, POOL - lo)
            radius = rng.uniform(0.15, 0.35, (n, 1, 1)).astype(np.float32) * size
            cx, cy = (rng.uniform(0.35, 0.65, (2, n, 1, 1)).astype(np.float32) * size)
            u = (grid[None, None, :] - cx) / radius
            v = (grid[None, :, None] - cy) / radius
            masks = _shape_masks(u, v)
            for i in range(n):
                label = labels[lo + i]
                warm = label >= CLASSES // 2
                tint = rng.integers(150, 256, 3)
                tint[2 if warm else 0] = rng.integers(0, 60)
                images[lo + i][masks[label % 5][i]] = tint
        return images, labels


def image_batch_maker(source: ShapesSource, seed: int) -> Callable[[int, torch.device], dict]:
    """make_batch(B, device) -> {"images": float [B, 3, H, W] normalised, "labels": int64 [B]}."""
    rng = np.random.default_rng(seed)

    def make_batch(batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        from kernels import collate_images

        images, labels = source.pool
        pick = rng.integers(0, POOL, batch_size)
        pixels = collate_images(torch.from_numpy(images[pick]), MEAN, STD, dtype=torch.float32, device=device)
        return {"images": pixels, "labels": torch.from_numpy(labels[pick]).to(device)}

    return make_batch


def image_classification_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(model(batch["images"]), batch["labels"])

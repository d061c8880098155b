"""ViT-B/16 shaped image classifier (224x224 input, 16x16 patches, 12 x 768, 1000 classes)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from planner.models.bundle import ModelBundle
from planner.models.image_data import (
    ShapesSource,
    image_batch_maker,
    image_classification_loss,
)
from planner.models.transformer import BlockStack


@dataclass(frozen=True)
class ViTConfig:
    image: int = 224
    patch: int = 16
    layers: int = 12
    width: int = 768
    heads: int = 12
    classes: int = 1000


class ViT(nn.Module):
    def __init__(self, cfg: ViTConfig, checkpointing: bool = False):
        super().__init__()
        patches = (cfg.image // cfg.patch) ** 2
        self.embed = nn.Conv2d(3, cfg.width, kernel_size=cfg.patch, stride=cfg.patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.width))
        self.pos = nn.Parameter(torch.randn(1, patches + 1, cfg.width) * 0.02)
        self.stack = BlockStack(cfg.layers, cfg.width, cfg.heads, causal=False, checkpointing=checkpointing)
        self.ln = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: [B, 3, H, W] normalised -> logits [B, classes] from the class token."""
        x = self.embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.ln(self.stack(x))[:, 0])


def vit_bundle(name: str, cfg: ViTConfig, checkpointing: bool) -> ModelBundle:
    shapes = ShapesSource(cfg.image, seed=0)
    return ModelBundle(
        id=name,
        model=ViT(cfg, checkpointing=checkpointing),
        make_batch=image_batch_maker(shapes, seed=0),
        loss=image_classification_loss,
        data_kind=shapes.kind,
        data_source=shapes.description,
    )

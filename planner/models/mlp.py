"""A small MLP classifier on real data: predict the next byte of Python source from the 4 before it.

The input is the one-hot encoding of the previous CONTEXT bytes of the stdlib corpus
(CONTEXT x 256 features), the target the next byte (256 classes). Real text, a real and
learnable task, and a model made only of Linear layers, so its FLOPs are easy to count by hand:
forward 2 * weights per sample, backward twice that.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from planner.models.bundle import ModelBundle
from planner.models.text_data import TokenSource, stdlib_source

CONTEXT = 4
VOCAB = 256


class MLPClassifier(nn.Module):
    def __init__(self, inputs: int, hidden: int, depth: int, classes: int):
        super().__init__()
        widths = [inputs] + [hidden] * depth
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(cin, cout), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def next_byte_batch_maker(source: TokenSource, seed: int) -> Callable[[int, torch.device], dict]:
    """make_batch(B, device) -> {"features": float [B, CONTEXT*256] one-hot, "labels": int64 [B]}."""
    rng = np.random.default_rng(seed)

    def make_batch(batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        ends = rng.integers(CONTEXT, len(source.tokens), batch_size)
        context = source.tokens[ends[:, None] + np.arange(-CONTEXT, 0)]
        features = F.one_hot(torch.from_numpy(context.astype(np.int64)), VOCAB).flatten(1).float()
        labels = torch.from_numpy(source.tokens[ends].astype(np.int64))
        return {"features": features.to(device), "labels": labels.to(device)}

    return make_batch


def classification_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(model(batch["features"]), batch["labels"])


def mlp_bundle(name: str = "mlp", hidden: int = 512, depth: int = 2) -> ModelBundle:
    source = stdlib_source()
    return ModelBundle(
        id=name,
        model=MLPClassifier(CONTEXT * VOCAB, hidden, depth, VOCAB),
        make_batch=next_byte_batch_maker(source, seed=0),
        loss=classification_loss,
        data_kind="real",
        data_source=f"{source.description}: next byte from the {CONTEXT} before it, one-hot",
    )

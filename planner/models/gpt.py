"""GPT-style decoder presets: a tiny one for tests and the demo, and the GPT-2 shapes.

The GPT-2 presets keep GPT-2's vocabulary of 50257 so their parameter counts match the
published 124M / 355M / 774M; fed the byte-level stdlib corpus they only ever see ids < 256,
which changes nothing about the step's cost. `gpt-tiny` is byte-level (vocab 256).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from planner.models.bundle import ModelBundle
from planner.models.text_data import IGNORE_INDEX, TokenSource, lm_batch_maker
from planner.models.transformer import BlockStack, init_weights


@dataclass(frozen=True)
class GPTConfig:
    layers: int
    width: int
    heads: int
    context: int
    vocab: int


GPT_CONFIGS: dict[str, GPTConfig] = {
    # Small enough that the whole default probe runs in seconds on a 2-core CPU.
    "gpt-tiny": GPTConfig(layers=2, width=128, heads=4, context=64, vocab=256),
    "gpt2-small": GPTConfig(layers=12, width=768, heads=12, context=1024, vocab=50257),
    "gpt2-medium": GPTConfig(layers=24, width=1024, heads=16, context=1024, vocab=50257),
    "gpt2-large": GPTConfig(layers=36, width=1280, heads=20, context=1024, vocab=50257),
}


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig, checkpointing: bool = False):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab, cfg.width)
        self.wpe = nn.Embedding(cfg.context, cfg.width)
        self.stack = BlockStack(cfg.layers, cfg.width, cfg.heads, causal=True, checkpointing=checkpointing)
        self.ln_f = nn.LayerNorm(cfg.width)
        self.lm_head = nn.Linear(cfg.width, cfg.vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as in GPT-2
        self.apply(init_weights)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx: [B, T] token ids -> logits [B, T, vocab]."""
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        return self.lm_head(self.ln_f(self.stack(x)))


def causal_lm_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Next-token cross-entropy; padded positions carry IGNORE_INDEX labels."""
    logits = model(batch["input_ids"])
    return F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)


def gpt_bundle(name: str, cfg: GPTConfig, seq_len: int, tokens: TokenSource, checkpointing: bool) -> ModelBundle:
    return ModelBundle(
        id=name,
        model=GPT(cfg, checkpointing=checkpointing),
        make_batch=lm_batch_maker(tokens, seq_len, seed=0),
        loss=causal_lm_loss,
        data_kind=tokens.kind,
        data_source=tokens.description,
        seq_len=seq_len,
    )

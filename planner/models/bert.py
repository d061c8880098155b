"""BERT-base shaped encoder trained with masked-language-model loss on the byte-level stdlib corpus.

The vocabulary stays at BERT's 30522 so the parameter count matches the published ~110M;
the text is byte-level (ids < 256) and id 256 plays [MASK]. Masking follows BERT: 15% of
real tokens are predicted; of those 80% become [MASK], 10% a random byte, 10% stay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from planner.models.bundle import ModelBundle
from planner.models.text_data import IGNORE_INDEX, TokenSource
from planner.models.transformer import BlockStack, init_weights

MASK_ID = 256
MASK_RATE = 0.15


@dataclass(frozen=True)
class BertConfig:
    layers: int = 12
    width: int = 768
    heads: int = 12
    context: int = 512
    vocab: int = 30522


class BertMLM(nn.Module):
    def __init__(self, cfg: BertConfig, checkpointing: bool = False):
        super().__init__()
        self.tok = nn.Embedding(cfg.vocab, cfg.width)
        self.pos = nn.Embedding(cfg.context, cfg.width)
        self.segment = nn.Embedding(2, cfg.width)  # kept for the parameter count; every token is segment 0
        self.ln_emb = nn.LayerNorm(cfg.width)
        self.stack = BlockStack(cfg.layers, cfg.width, cfg.heads, causal=False, checkpointing=checkpointing)
        self.ln_f = nn.LayerNorm(cfg.width)
        self.head = nn.Sequential(nn.Linear(cfg.width, cfg.width), nn.GELU(), nn.LayerNorm(cfg.width))
        self.decoder_bias = nn.Parameter(torch.zeros(cfg.vocab))  # decoder weight is tied to `tok`
        self.apply(init_weights)

    def forward(self, input_ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """input_ids, keep: [B, T] (keep False on padding) -> logits [B, T, vocab]."""
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.ln_emb(self.tok(input_ids) + self.pos(pos) + self.segment.weight[0])
        h = self.head(self.ln_f(self.stack(x, keep)))
        return F.linear(h, self.tok.weight, self.decoder_bias)


def mlm_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    logits = model(batch["input_ids"], batch["attention_mask"].bool())
    return F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)


def mlm_batch_maker(source: TokenSource, seq_len: int, seed: int):
    """make_batch(B, device) -> input_ids with BERT masking, attention_mask, labels (IGNORE_INDEX off-mask)."""
    rng = np.random.default_rng(seed)

    def make_batch(batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        from kernels import collate_tokens

        flat, offsets = source.sample(batch_size, seq_len, rng)
        chosen = rng.random(len(flat)) < MASK_RATE
        roll = rng.random(len(flat))
        corrupted = np.where(chosen & (roll < 0.8), MASK_ID, flat)
        corrupted = np.where(chosen & (roll >= 0.9), rng.integers(0, source.vocab_size, len(flat)), corrupted)
        targets = np.where(chosen, flat, IGNORE_INDEX)
        offsets_t = torch.from_numpy(offsets)

        def fixed(ids: np.ndarray, pad_id: int) -> dict[str, torch.Tensor]:  # exactly seq_len columns
            return collate_tokens(torch.from_numpy(ids), offsets_t, pad_id=pad_id, max_len=seq_len,
                                  pad_to_multiple_of=seq_len, device=device)

        inputs = fixed(corrupted, 0)
        # Collating the targets as if they were ids lays them out position for position (unshifted).
        labels = fixed(targets, IGNORE_INDEX)
        return {
            "input_ids": inputs["input_ids"],
            "attention_mask": inputs["attention_mask"],
            "labels": labels["input_ids"],
        }

    return make_batch


def bert_bundle(name: str, cfg: BertConfig, seq_len: int, tokens: TokenSource, checkpointing: bool) -> ModelBundle:
    return ModelBundle(
        id=name,
        model=BertMLM(cfg, checkpointing=checkpointing),
        make_batch=mlm_batch_maker(tokens, seq_len, seed=0),
        loss=mlm_loss,
        data_kind=tokens.kind,
        data_source=f"{tokens.description}, masked-LM",
        seq_len=seq_len,
    )

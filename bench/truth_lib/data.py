"""Real data for the truth bench: the `mlp` preset's next-byte task on the stdlib corpus, split by file.

Every HELD_OUT_EVERY-th source file is held out, so the evaluation set shares no file with the
training stream. The evaluation set is one fixed batch drawn once: every run, at every batch
size and seed, is scored on the same samples, so their crossings of the target are comparable.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from planner.models import load_model
from planner.models.bundle import Batch, ModelBundle
from planner.models.mlp import next_byte_batch_maker
from planner.models.text_data import TokenSource, stdlib_source

MODEL = "mlp"
HELD_OUT_EVERY = 10  # 1 file in 10 (~1.5 MB of the ~12 MB corpus) is held out
EVAL_SEED = 10_000  # the evaluation batch is the same in every run
CPU = torch.device("cpu")


def _subset(source: TokenSource, docs: list[int], label: str) -> TokenSource:
    offsets = source.doc_offsets
    lengths = [int(offsets[d + 1] - offsets[d]) for d in docs]
    new_offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    tokens = np.concatenate([source.tokens[offsets[d]:offsets[d + 1]] for d in docs])
    return TokenSource(tokens=tokens, doc_offsets=new_offsets, vocab_size=source.vocab_size, kind="real",
                       description=f"{source.description}, {label} ({len(docs)} files, {len(tokens) / 1e6:.1f} MB)")


def split_corpus() -> tuple[TokenSource, TokenSource]:
    """(training files, held-out files) of the stdlib corpus."""
    source = stdlib_source()
    docs = range(len(source.doc_offsets) - 1)
    return (_subset(source, [d for d in docs if d % HELD_OUT_EVERY], "training split"),
            _subset(source, [d for d in docs if d % HELD_OUT_EVERY == 0], "held-out split"))


def eval_batch(held_out: TokenSource, size: int) -> Batch:
    return next_byte_batch_maker(held_out, EVAL_SEED)(size, CPU)


def make_bundle(train: TokenSource, seed: int) -> ModelBundle:
    """The `mlp` preset with init seed `seed`, drawing training batches from `train` with the same seed."""
    torch.manual_seed(seed)
    bundle = load_model(MODEL)
    return dataclasses.replace(bundle, make_batch=next_byte_batch_maker(train, seed), data_source=train.description)

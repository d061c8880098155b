"""Token data for the language-model presets: the Python stdlib's own sources, or the user's ids.

The built-in corpus is real text available offline everywhere batchfit runs: the bytes of the
standard library's `*.py` files (tests and installed packages left out), one document per file,
byte-level (ids 0..255). A sample is a window of up to `seq_len` tokens inside one document, so
windows that meet a document's end are shorter and the batch is padded by
`kernels.collate_tokens` -- the sequence lengths vary as they do in padded LM training.
"""

from __future__ import annotations

import functools
import os
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from planner.errors import BadInput
from planner.models.messages import one_line

IGNORE_INDEX = -100  # label value cross-entropy skips (padding, positions with no next token)
_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}


@dataclass(frozen=True)
class TokenSource:
    """Token ids as one flat array cut into documents; windows never cross a document boundary."""

    tokens: np.ndarray  # [N] integer ids
    doc_offsets: np.ndarray  # [D + 1] int64, document d is tokens[doc_offsets[d]:doc_offsets[d + 1]]
    vocab_size: int  # every id is < vocab_size
    kind: Literal["real", "synthetic"]
    description: str

    def sample(self, count: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` windows of at most `length` tokens -> (flat int64 ids, int64 offsets [count + 1]).

        A window starts at a uniformly drawn token, so documents are chosen in proportion to
        their length, and stops at `length` tokens or at its document's end.
        """
        starts = rng.integers(0, len(self.tokens), size=count)
        doc_ends = self.doc_offsets[np.searchsorted(self.doc_offsets, starts, side="right")]
        lengths = np.minimum(length, doc_ends - starts)
        offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return self.tokens[index].astype(np.int64), offsets


@functools.lru_cache(maxsize=1)
def stdlib_source() -> TokenSource:
    """The stdlib `*.py` corpus, read once per process (about 13 MB on CPython 3.11)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        files.extend(Path(folder) / n for n in sorted(names) if n.endswith(".py"))
    docs = [data for data in (f.read_bytes() for f in files) if data]
    if not docs:
        raise BadInput(f"no Python sources under {root}; pass --data PATH with your own token ids")
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=offsets[1:])
    tokens = np.frombuffer(b"".join(docs), dtype=np.uint8)
    return TokenSource(
        tokens=tokens,
        doc_offsets=offsets,
        vocab_size=256,
        kind="real",
        description=f"Python stdlib sources, byte-level ({len(docs)} files, {len(tokens) / 1e6:.1f} MB)",
    )


def load_token_file(path: Path, vocab_size: int) -> TokenSource:
    """A 1-D array of integer token ids from a `.npy` or `.pt` file, checked against the vocabulary."""
    if not path.is_file():
        raise BadInput(f"--data {path}: no such file; give a .npy or .pt file holding a 1-D array of token ids")
    if path.suffix == ".npy":
        try:
            ids = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise BadInput(f"--data {path}: not a plain .npy array ({one_line(exc)}); save it with numpy.save") from exc
    elif path.suffix == ".pt":
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise BadInput(f"--data {path}: cannot load ({one_line(exc)}); save a tensor with torch.save") from exc
        if not isinstance(loaded, torch.Tensor):
            raise BadInput(f"--data {path}: holds {type(loaded).__name__}, not a tensor; "
                           "torch.save a 1-D tensor of ids")
        ids = loaded.numpy()
    else:
        raise BadInput(f"--data {path}: unknown format {path.suffix!r}; use .npy or .pt")
    if not np.issubdtype(ids.dtype, np.integer):
        raise BadInput(f"--data {path}: token ids must be integers, found {ids.dtype}; convert with .astype(int64)")
    if ids.ndim != 1 or len(ids) < 2:
        raise BadInput(f"--data {path}: expected a 1-D array of at least 2 token ids, found shape {ids.shape}")
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        raise BadInput(f"--data {path}: ids span [{low}, {high}] but the model's vocabulary is [0, {vocab_size}); "
                       "pick a preset with a larger vocabulary or re-tokenize")
    return TokenSource(
        tokens=ids,
        doc_offsets=np.array([0, len(ids)], dtype=np.int64),
        vocab_size=vocab_size,
        kind="real",
        description=f"user token ids from {path.name} ({len(ids)} tokens)",
    )


def text_source(data: Path | None, vocab_size: int) -> TokenSource:
    """The user's token file if given, else the stdlib corpus (which needs vocab_size >= 256)."""
    if data is not None:
        return load_token_file(data, vocab_size)
    return stdlib_source()


def lm_batch_maker(source: TokenSource, seq_len: int, seed: int) -> Callable[[int, torch.device], dict]:
    """make_batch(B, device) for a causal LM: padded ids, attention mask, positions, shifted labels."""
    rng = np.random.default_rng(seed)

    def make_batch(batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        from kernels import collate_tokens

        flat, offsets = source.sample(batch_size, seq_len, rng)
        # Rounding up to a multiple of seq_len pads every batch to exactly seq_len columns, so
        # each probe point costs the same however short its windows happen to be.
        return collate_tokens(
            torch.from_numpy(flat), torch.from_numpy(offsets), max_len=seq_len, pad_to_multiple_of=seq_len,
            pad_id=0, device=device,
        )

    return make_batch


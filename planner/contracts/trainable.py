"""What a run trains: every parameter, LoRA adapters, QLoRA adapters on a 4-bit base, or a share.

The request's `--trainable` text, parsed once (torch-free) into a TrainableSpec:
- `full`: every parameter trained (the default).
- `lora:r=16[,alpha=32][,targets=q,k,v,o,gate,up,down | all-linear]`: LoRA adapters (Hu et al. 2021)
  of rank r on the targeted linear layers, the base frozen at its storage dtype. Targets default
  to `all-linear`: peft's `target_modules="all-linear"`, every linear layer but the output head,
  the QLoRA paper's setting (Dettmers et al. 2023, section 4: adapters on every linear layer of
  the blocks are needed to match full fine-tuning) and TRL's and axolotl's usual one. A target
  `q` names the linears whose module name is `q` or `q_proj`; a full module name works too.
- `qlora:r=16[,...]`: the same adapters on a base whose linear layers are stored in 4-bit NF4
  (bitsandbytes, as QLoRA trains).
- a fraction such as `0.05`: that share of the parameters trained, the rest frozen.
alpha scales the adapters' update; it changes no memory or FLOPs, and is recorded as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator

TrainableKind = Literal["full", "lora", "qlora", "fraction"]
ALL_LINEAR = "all-linear"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
MOST_RANK = 65536
USAGE = "give full, lora:r=16, qlora:r=16 (optional alpha=A, targets=q,k,v,o or all-linear), or a fraction like 0.05"


@dataclass(frozen=True)
class TrainableSpec:
    kind: TrainableKind
    rank: int | None = None  # lora / qlora
    alpha: float | None = None
    targets: tuple[str, ...] = (ALL_LINEAR,)
    fraction: float | None = None  # kind "fraction": the share of parameters trained

    @property
    def adapters(self) -> bool:
        return self.kind in ("lora", "qlora")

    def text(self) -> str:
        """The canonical spec: what the request stores and every view shows."""
        if self.kind == "full":
            return "full"
        if self.kind == "fraction":
            return f"{self.fraction:g}"
        alpha = f",alpha={self.alpha:g}" if self.alpha is not None else ""
        return f"{self.kind}:r={self.rank}{alpha},targets={','.join(self.targets)}"

    def describe(self) -> str:
        if self.kind == "full":
            return "every parameter trained"
        if self.kind == "fraction":
            return f"{self.fraction:.3g} of the parameters trained, the rest frozen"
        base = "a 4-bit NF4 base" if self.kind == "qlora" else "a frozen base"
        return f"{'QLoRA' if self.kind == 'qlora' else 'LoRA'} r={self.rank} on {', '.join(self.targets)} over {base}"


def parse_trainable(text: str) -> TrainableSpec:
    """The spec of `text`; ValueError with a one-line reason (the CLI puts the flag before it)."""
    raw = text.strip()
    if raw == "full":
        return TrainableSpec("full")
    kind, sep, rest = raw.partition(":")
    if kind in ("lora", "qlora"):
        if not sep or not rest:
            raise ValueError(f"{raw!r} needs a rank: {kind}:r=16")
        return _adapter_spec(kind, rest)  # type: ignore[arg-type]  # one of the two, checked above
    try:
        share = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a trainable spec; {USAGE}") from None
    if not 0 < share < 1:
        raise ValueError(f"a trainable fraction lies strictly between 0 and 1, not {raw}; give full to train "
                         "every parameter")
    return TrainableSpec("fraction", fraction=share)


def _adapter_spec(kind: Literal["lora", "qlora"], rest: str) -> TrainableSpec:
    """`r=16,alpha=32,targets=q,k,v`: a bare word after targets= is one more target."""
    values: dict[str, str] = {}
    targets: list[str] = []
    key = None
    for token in (t.strip() for t in rest.split(",")):
        name, eq, value = token.partition("=")
        if eq:
            key = name.strip()
            if key not in ("r", "alpha", "targets") or key in values:
                raise ValueError(f"{kind}: {'repeated' if key in values else 'unknown'} key {key!r}; "
                                 "keys are r, alpha, targets")
            values[key] = value.strip()
            if key == "targets":
                targets.append(value.strip())
        elif key == "targets":
            targets.append(token)
        else:
            raise ValueError(f"{kind}: {token!r} is not key=value; e.g. {kind}:r=16,alpha=32,targets=q,v")
    if "r" not in values:
        raise ValueError(f"{kind} needs a rank: {kind}:r=16")
    try:
        rank = int(values["r"])
        alpha = float(values["alpha"]) if "alpha" in values else None
    except ValueError:
        raise ValueError(f"{kind}: r must be a whole number and alpha a number, not {rest!r}") from None
    if not 1 <= rank <= MOST_RANK:
        raise ValueError(f"{kind}: the rank r must lie in 1..{MOST_RANK}, not {rank}")
    if alpha is not None and not 0 < alpha < 1e6:
        raise ValueError(f"{kind}: alpha must be a positive number, not {values['alpha']}")
    if "targets" in values:
        bad = [t for t in targets if t != ALL_LINEAR and not _NAME.match(t)]
        if not targets or bad or (ALL_LINEAR in targets and len(targets) > 1):
            raise ValueError(f"{kind}: targets are module names (q,k,v,o,gate,up,down) or all-linear alone, "
                             f"not {','.join(targets) or 'nothing'}")
    return TrainableSpec(kind, rank=rank, alpha=alpha,
                         targets=tuple(dict.fromkeys(targets)) if targets else (ALL_LINEAR,))


def canonical(text: str) -> str:
    """The spec's one spelling, so a plan and a diff show one; ValueError for a bad spec."""
    return parse_trainable(text).text()


TrainableText = Annotated[str, AfterValidator(canonical)]
"""A --trainable spec, checked wherever the field is validated (a request, a flag, the TUI's field check)."""

"""The model's linear layers by name and shape: what LoRA adapts and QLoRA quantises.

Recorded in a trace (ModelTrace.linears) so a plan can count LoRA's trainable parameters,
r x (in + out) per adapted layer, and the bytes of a 4-bit base without torch. Works on the
meta device: only shapes are read.
"""

from __future__ import annotations

import re

from torch import nn

from planner.contracts.probe import LinearGroup

_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")


def _output_head(model: nn.Module) -> nn.Module | None:
    """The output projection: transformers' get_output_embeddings(), else a module named lm_head."""
    get = getattr(model, "get_output_embeddings", None)
    found = get() if callable(get) else None
    if isinstance(found, nn.Module):
        return found
    return getattr(model, "lm_head", None) if isinstance(getattr(model, "lm_head", None), nn.Module) else None


def linear_groups(model: nn.Module) -> list[LinearGroup]:
    """Every nn.Linear, grouped by its path with layer indices as * and by shape, in model order."""
    head = _output_head(model)
    groups: dict[tuple[str, int, int], LinearGroup] = {}
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        key = (_INDEX.sub("*", name), module.in_features, module.out_features)
        seen = groups.get(key)
        groups[key] = LinearGroup(name=key[0], in_features=key[1], out_features=key[2],
                                  count=(seen.count if seen else 0) + 1, head=module is head)
    return list(groups.values())

"""A small YAML writer for the task files batchfit writes (mappings, lists, scalars, block text).

Strings are written as JSON strings, which YAML reads as the same strings, so no value can be
misread (`on`, `1e3`, `*`); multi-line strings are literal blocks. No YAML library is needed.
"""

from __future__ import annotations

import json
from typing import Any

INDENT = "  "


def dump(value: dict[str, Any]) -> str:
    return "".join(_mapping(value, 0))


def _mapping(value: dict[str, Any], depth: int) -> list[str]:
    lines: list[str] = []
    pad = INDENT * depth
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{pad}{key}:\n")
            lines += _mapping(item, depth + 1)
        elif isinstance(item, list):
            lines.append(f"{pad}{key}:\n")
            lines += [f"{pad}{INDENT}- {_scalar(v)}\n" for v in item]
        elif isinstance(item, str) and "\n" in item:
            lines.append(f"{pad}{key}: |\n")
            lines += [f"{pad}{INDENT}{line}\n" if line else "\n" for line in item.rstrip("\n").split("\n")]
        else:
            lines.append(f"{pad}{key}: {_scalar(item)}\n")
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} as a YAML scalar")

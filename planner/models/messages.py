"""Exceptions turned into the one-line reasons batchfit prints and records (never a traceback)."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """'TypeName: first line of the message', or just the type name when the message is empty."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__

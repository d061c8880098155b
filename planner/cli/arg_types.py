"""argparse value types shared by the subcommands: a bad value is one line naming the flag."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive(kind: type[int] | type[float], what: str) -> Callable[[str], int | float]:
    """A number greater than 0; ints accept '2e9' (a float literal with no fraction)."""

    def parse(text: str) -> int | float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if kind is int and not value.is_integer():
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text}")
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be greater than 0, got {text}")
        return kind(value)

    return parse


def at_least_zero(what: str) -> Callable[[str], int]:
    """A whole number >= 0 (a count where 0 means off)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{what} must be 0 or more, got {text}")
        return value

    return parse


def comma_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]

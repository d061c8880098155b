"""argparse value types: a bad value is one line naming the flag; NaN, inf and huge numbers never pass.

The derived flags (`planner.cli.flags`) take their bounds from the contract's field; the few
flags that belong to no contract (quotes' filters) use `positive` and `at_least_zero`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass

# Larger than any count batchfit takes (samples, tokens, bytes) and exact as a float: past it a
# typo, not a workload. int64 keeps the value storable everywhere.
LARGEST_INT = 2**62


@dataclass(frozen=True)
class Bounds:
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def complaint(self, value: float, whole: bool) -> str | None:
        """What is wrong with value, or None."""
        if self.gt is not None and not value > self.gt:
            return f"must be greater than {self.gt:g}"
        if self.ge is not None and not value >= self.ge:
            if whole and self.ge == 1:
                return "must be greater than 0"
            return "must be 0 or more" if self.ge == 0 else f"must be at least {self.ge:g}"
        if self.lt is not None and not value < self.lt:
            return f"must be below {self.lt:g}"
        if self.le is not None and not value <= self.le:
            return f"must be at most {self.le:g}"
        return None


def _parse(text: str, flag: str, whole: bool) -> float | int:
    try:
        value = int(text) if whole and text.strip().lstrip("+-").isdigit() else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{flag} must be a finite number, got {text}")
    if whole:
        if isinstance(value, float) and not value.is_integer():
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number, got {text}")
        if abs(value) > LARGEST_INT:
            raise argparse.ArgumentTypeError(f"{flag} is too large ({text}); at most {LARGEST_INT:.3g}")
        return int(value)
    return value


def number(kind: type[int] | type[float], flag: str, bounds: Bounds = Bounds(),
           scale: float | None = None) -> Callable[[str], int | float]:
    """A finite number within bounds; ints accept '2e9' (a float literal with no fraction).
    scale: the flag's unit -> the field's (GB -> bytes: 1e9); bounds apply to the field's value."""
    whole = kind is int

    def parse(text: str) -> int | float:
        value = _parse(text, flag, whole and scale is None)
        converted: int | float = value * scale if scale is not None else value
        if whole:
            if not math.isfinite(converted) or abs(converted) > LARGEST_INT:
                raise argparse.ArgumentTypeError(f"{flag} is too large, got {text}")
            converted = int(round(converted))
        complaint = bounds.complaint(converted, whole)
        if complaint:
            raise argparse.ArgumentTypeError(f"{flag} {complaint}, got {text}")
        return converted

    return parse


def positive(kind: type[int] | type[float], flag: str) -> Callable[[str], int | float]:
    """A finite number greater than 0."""
    return number(kind, flag, Bounds(gt=0))


def at_least_zero(flag: str) -> Callable[[str], int | float]:
    """A whole number >= 0 (a count where 0 means off)."""
    return number(int, flag, Bounds(ge=0))


def comma_list(flag: str) -> Callable[[str], list[str]]:
    """'aws, gcp' -> ['aws', 'gcp']; a list with no names in it is an error, not 'every provider'."""

    def parse(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"{flag} names nothing, got {text!r}; give a comma list or leave it out")
        return names

    return parse

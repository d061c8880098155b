"""How old a price is, in words that fit a table cell."""

from __future__ import annotations

STALE_AFTER_DAYS = 90
"""Older prices are flagged on screen; the catalog's own staleness warnings give the details."""


def age_text(days: int) -> str:
    if days <= 0:
        return "today"
    if days < 60:
        return f"{days} d"
    return f"{days // 30} mo"


def is_stale(days: int) -> bool:
    return days > STALE_AFTER_DAYS

"""Factories with the mistakes users make, for the registry's messages (`tests.models.user_factories:<name>`)."""

from __future__ import annotations


def raises():
    raise RuntimeError("weights not found\nsecond line of detail")


def returns_wrong_type():
    return {"model": None}


NOT_A_FUNCTION = 42

"""Errors raised by the price sources: each message is one line naming what is wrong and how to fix it."""

from __future__ import annotations


class CatalogError(ValueError):
    """A price or GPU table is malformed: the message names the file, the line, the field and the fix.

    The CLI maps it to exit code 2 (bad input).
    """


class QuoteFilterError(ValueError):
    """A quotes filter names something the catalog does not have; the message lists what it does have."""

"""Widgets of the batchfit app that are not screens."""

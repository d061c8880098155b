"""Models the probe can run: built-in presets (no downloads) and the user-factory contract."""

from planner.models.bundle import ModelBundle
from planner.models.registry import list_presets, load_model

__all__ = ["ModelBundle", "list_presets", "load_model"]

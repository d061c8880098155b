"""batchfit's headless core: contracts, probe orchestration, performance models, optimiser, CLI."""

__version__ = "0.1.0"

"""Model tests; HF_CONFIGS holds config.json files written from public hyperparameters."""

from pathlib import Path

HF_CONFIGS = Path(__file__).parent / "hf_configs"
TRACED = Path(__file__).parent / "traced"

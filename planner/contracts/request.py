"""PlanRequest: what the user wants to train, on what reference run, under which limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REQUEST_SCHEMA_VERSION = 1

OptimizerFamily = Literal["adamw", "adam", "sgd"]
Precision = Literal["fp32", "bf16"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Workload(_Strict):
    """How much training: samples, or tokens, or epochs over a dataset. Exactly one form."""

    samples: int | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)
    epochs: float | None = Field(default=None, gt=0)
    dataset_size: int | None = Field(default=None, gt=0, description="samples per epoch")

    @model_validator(mode="after")
    def _one_form(self) -> Workload:
        forms = [self.samples is not None, self.tokens is not None, self.epochs is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one of samples, tokens, or epochs with dataset_size")
        if (self.epochs is None) != (self.dataset_size is None):
            raise ValueError("epochs and dataset_size go together")
        return self

    def total_samples(self, tokens_per_sample: int | None) -> float:
        """Samples the reference run trains on; tokens need the model's sequence length."""
        if self.samples is not None:
            return float(self.samples)
        if self.epochs is not None and self.dataset_size is not None:
            return self.epochs * self.dataset_size
        if not tokens_per_sample:
            raise ValueError("a token workload needs a model with a sequence length; give --samples instead")
        assert self.tokens is not None
        return self.tokens / tokens_per_sample


class ReferenceRun(_Strict):
    """A run the user trusts: its batch size and optimizer settings anchor the LR retune."""

    batch_size: int = Field(gt=0)
    lr: float = Field(gt=0)
    optimizer: OptimizerFamily = "adamw"
    betas: tuple[float, float] | None = None
    eps: float | None = Field(default=None, gt=0)
    momentum: float | None = Field(default=None, ge=0, lt=1)
    weight_decay: float | None = Field(default=None, ge=0)
    warmup_steps: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _betas_valid(self) -> ReferenceRun:
        if self.betas is not None and not all(0 <= b < 1 for b in self.betas):
            raise ValueError("betas must lie in [0, 1)")
        return self


class PlanRequest(_Strict):
    schema_version: int = REQUEST_SCHEMA_VERSION
    model: str = Field(description="preset name or package.module:factory")
    workload: Workload
    reference: ReferenceRun
    budget_usd: float | None = Field(default=None, gt=0)
    deadline_hours: float | None = Field(default=None, gt=0)
    precision: Precision = "bf16"
    providers: list[str] | None = Field(default=None, description="None = every provider in the catalog")
    regions: list[str] | None = None
    spot: bool = False
    max_gpus: int = Field(default=8, ge=1)
    noise_scale: float | None = Field(
        default=None, gt=0,
        description="B_noise measured near the target loss (e.g. from your own run); overrides the probe's early one")

"""PlanRequest: what the user wants to train, on what reference run, under which limits.

Each field with a flag is `batchfit plan`'s flag of that name (see `planner.contracts.settings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.contracts.layout import Checkpointing, Layout
from planner.contracts.settings import Strict, setting
from planner.contracts.trainable import TrainableText
from planner.errors import BadInput

REQUEST_SCHEMA_VERSION = 3  # 3: trainable, max_nodes, gpus (planner/contracts/migrate.py)

OptimizerFamily = Literal["adamw", "adam", "sgd"]
# bf16 and fp16 are autocast mixed precision (fp16 with a grad scaler); fp32 follows torch's
# defaults: convolutions on TF32 tensor cores, matmuls on the FP32 units unless tf32_matmul.
Precision = Literal["fp32", "bf16", "fp16"]

# Upper bounds: far past any real run, low enough that products of them stay finite and exact.
MOST_SAMPLES = 1e18
MOST_EPOCHS = 1e6
MOST_BATCH = 2**24


class Workload(Strict):
    """How much training: samples, or tokens, or epochs over a dataset. Exactly one form."""

    samples: int | None = setting(None, flag="--samples", gt=0, le=MOST_SAMPLES,
                                  help="samples the reference run trains on")
    tokens: int | None = setting(None, flag="--tokens", gt=0, le=MOST_SAMPLES,
                                 help="tokens the reference run trains on")
    epochs: float | None = setting(None, flag="--epochs", gt=0, le=MOST_EPOCHS,
                                   help="epochs over --dataset-size samples")
    dataset_size: int | None = setting(None, flag="--dataset-size", gt=0, le=MOST_SAMPLES,
                                       help="samples per epoch: the data you have (with --epochs or --max-epochs)")

    @model_validator(mode="after")
    def _one_form(self) -> Workload:
        forms = [self.samples is not None, self.tokens is not None, self.epochs is not None]
        if sum(forms) != 1:
            raise ValueError("give exactly one of samples, tokens, or epochs with dataset_size")
        if self.epochs is not None and self.dataset_size is None:
            raise ValueError("epochs need dataset_size, the samples per epoch")
        return self

    def total_samples(self, tokens_per_sample: int | None) -> float:
        """Samples the reference run trains on; tokens need the model's sequence length."""
        if self.samples is not None:
            return float(self.samples)
        if self.epochs is not None and self.dataset_size is not None:
            return self.epochs * self.dataset_size
        if not tokens_per_sample:
            raise BadInput("a token workload needs a model with a sequence length; give --samples instead")
        assert self.tokens is not None
        return self.tokens / tokens_per_sample


class ReferenceRun(Strict):
    """A run the user trusts: its batch size and optimizer settings anchor the LR retune."""

    batch_size: int = setting(flag="--ref-batch", gt=0, le=MOST_BATCH, help="the reference run's global batch")
    lr: float = setting(flag="--ref-lr", gt=0, le=1e3, help="the reference run's learning rate")
    optimizer: OptimizerFamily = setting("adamw", flag="--optimizer", help="the reference run's optimizer")
    betas: tuple[float, float] | None = None
    eps: float | None = Field(default=None, gt=0)
    momentum: float | None = Field(default=None, ge=0, lt=1)
    weight_decay: float | None = setting(None, flag="--weight-decay", ge=0, le=1e3,
                                         help="the reference run's weight decay")
    warmup_steps: int | None = setting(None, flag="--warmup-steps", ge=0, le=MOST_SAMPLES,
                                       help="the reference run's warmup steps")

    @model_validator(mode="after")
    def _betas_valid(self) -> ReferenceRun:
        if self.betas is not None and not all(0 <= b < 1 for b in self.betas):
            raise ValueError("betas must lie in [0, 1)")
        return self


class PlanRequest(Strict):
    schema_version: int = REQUEST_SCHEMA_VERSION
    model: str = setting(flag="--model", metavar="NAME|pkg.mod:factory", help="preset name or package.module:factory")
    workload: Workload
    reference: ReferenceRun
    budget_usd: float | None = setting(None, flag="--budget", unit="USD", metavar="USD", gt=0, le=1e12, help="most the run may cost")
    deadline_hours: float | None = setting(None, flag="--deadline", unit="h", metavar="HOURS", gt=0, le=1e6,
                                           help="longest the run may take")
    precision: Precision = setting("bf16", flag="--precision", help="training precision of the planned run")
    tf32_matmul: bool = setting(
        False, flag="--tf32-matmul", negatable=True,
        help="fp32 plans: matmuls on TF32 tensor cores (torch.backends.cuda.matmul.allow_tf32); "
             "convolutions use TF32 either way, as torch does by default")
    harness: Literal["eager", "tuned"] | None = setting(
        None, flag="--harness",
        help="the training stack step-time priors assume: eager (plain PyTorch steps, as the probe times them) or "
             "tuned (FSDP with fused and flash kernels, as MosaicML llm-foundry's published runs); default: tuned "
             "for a traced model, eager for a measured one")
    providers: list[str] | None = setting(None, flag="--providers",
                                          help="comma list, e.g. aws,gcp,azure,lambda (default: every provider)")
    regions: list[str] | None = setting(None, flag="--regions", help="comma list of provider regions")
    gpus: list[str] | None = setting(None, flag="--gpus", metavar="LIST",
                                     help="comma list of GPU names from pricing/gpus.csv, e.g. H100-SXM-80GB "
                                          "(default: every GPU)")
    spot: bool = setting(False, flag="--spot", negatable=True, help="allow spot offers")
    max_gpus: int = setting(8, flag="--max-gpus", ge=1, le=4096, help="GPUs per instance at most")
    max_nodes: int = setting(16, flag="--max-nodes", ge=1, le=1024,
                             help="instances per candidate at most: clusters of 1, 2, 4, ... and this many "
                                  "instances of one offer, where pricing/fabric.csv says the type is clustered")
    noise_scale: float | None = setting(
        None, flag="--noise-scale", unit="samples", metavar="B_NOISE", gt=0, le=MOST_SAMPLES,
        help="B_noise measured near the target loss (e.g. from your own run); overrides the probe's early one")
    target_loss: float | None = setting(
        None, flag="--target-loss", gt=0, le=1e6,
        help="the loss the run trains to (the reference run's final loss when known): a noise scale read "
             "above it is a lower bound, and the plan's B_noise range reaches up to it")
    max_samples: float | None = setting(
        None, flag="--max-samples", unit="samples", gt=0, le=MOST_SAMPLES,
        help="most samples the run can train on: a candidate needing more is infeasible")
    max_epochs: float | None = setting(
        None, flag="--max-epochs", gt=0, le=MOST_EPOCHS,
        help="most passes over --dataset-size samples: a candidate needing more is infeasible")

    @model_validator(mode="after")
    def _data_cap(self) -> PlanRequest:
        if self.max_epochs is not None and self.workload.dataset_size is None:
            raise ValueError("max_epochs needs the workload's dataset_size (--dataset-size), the samples per epoch")
        return self

    def samples_cap(self) -> float | None:
        """Most samples that exist for the run: --max-samples and --max-epochs x --dataset-size."""
        caps = [c for c in (self.max_samples, None if self.max_epochs is None or self.workload.dataset_size is None
                            else self.max_epochs * self.workload.dataset_size) if c is not None]
        return min(caps) if caps else None
    layouts: list[Layout] | None = setting(
        None, flag="--layouts", metavar="LIST",
        help="parallel layouts to weigh, comma list of ddp, zero1, zero2, fsdp, hsdp (hsdp on 2+ nodes only; "
             "default: all for a traced model, "
             "ddp for a measured one)")
    checkpointing: list[Checkpointing] | None = setting(
        None, flag="--recompute", metavar="LIST",
        help="activation checkpointing to weigh, comma list of none, selective, full (default: every traced mode, "
             "else the probe's)")
    trainable: TrainableText = setting(
        "full", flag="--trainable", metavar="SPEC",
        help="what the run trains (default full: every parameter): lora:r=16 or qlora:r=16 (a 4-bit base), "
             "optionally with alpha=A and targets=q,k,v,o,gate,up,down (all-linear when not given), or a fraction "
             "such as 0.05 (planner/contracts/trainable.py)")

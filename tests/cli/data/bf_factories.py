"""Factories for the CLI tests: one that raises, one that returns the wrong thing, one whose loss fails."""

import torch

from planner.models.bundle import ModelBundle


def raises():
    raise RuntimeError("the user's factory failed")


def wrong_type():
    return 42


def broken_loss() -> ModelBundle:
    model = torch.nn.Linear(4, 1)

    def loss(m: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("shape mismatch in the user's loss")

    return ModelBundle(id="broken", model=model, make_batch=lambda b, d: torch.randn(b, 4, device=d), loss=loss,
                       data_kind="synthetic", data_source="gaussian noise")


def exits():
    import sys

    sys.exit(3)  # 3 means "nothing fits" to batchfit: it must not leak out as batchfit's exit code


def exits_in_loss() -> ModelBundle:
    import sys

    def loss(m: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        sys.exit(0)

    return ModelBundle(id="exits", model=torch.nn.Linear(4, 1), make_batch=lambda b, d: torch.randn(b, 4, device=d),
                       loss=loss, data_kind="synthetic", data_source="gaussian noise")

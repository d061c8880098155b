"""FLOPs per sample against hand counts."""

from __future__ import annotations

import pytest
import torch

from planner.models import load_model
from planner.models.bundle import ModelBundle
from planner.models.transformer import BlockStack
from planner.probe.flops import causal_fraction, count_flops, flops_per_sample

CPU = torch.device("cpu")


def test_mlp_flops_match_the_hand_count():
    bundle = load_model("mlp")
    weights = [m.weight.numel() for m in bundle.model.modules() if isinstance(m, torch.nn.Linear)]
    # forward 2*W per layer; backward 2*W for the weight gradient and 2*W for the input gradient,
    # except the first layer, whose input (the data) needs no gradient.
    expected = 2 * sum(weights) + 2 * sum(weights) + 2 * sum(weights[1:])
    assert flops_per_sample(bundle, CPU) == (expected, 0.0)


def test_gpt_flops_count_linears_and_causal_attention():
    bundle = load_model("gpt-tiny")
    cfg = bundle.model.cfg
    t, c = cfg.context, cfg.width
    linear = cfg.layers * 12 * c * c + c * cfg.vocab  # qkv 3c^2, proj c^2, mlp 8c^2; tied head
    # Attention per layer and sample: forward QK^T and AV, 4*t^2*c; backward 10*t^2*c, as torch
    # counts it (flash-style backward recomputes QK^T); causal keeps t(t+1)/2 of the t^2 pairs.
    attention = cfg.layers * 14 * t * t * c * (t + 1) / (2 * t)
    assert flops_per_sample(bundle, CPU)[0] == 6 * t * linear + attention
    assert flops_per_sample(bundle, CPU, batch_size=4)[0] == 6 * t * linear + attention
    count = count_flops(bundle, CPU)
    assert count.attention_per_sample == attention
    half = cfg.layers * 7 * t * t * c  # the closed form: half of the full count
    assert abs(count.attention_per_sample / half - 1) < 0.02  # (t+1)/t = 1.6% at t = 64


class _Attention(torch.nn.Module):
    def __init__(self, causal: bool):
        super().__init__()
        self.stack = BlockStack(1, 64, 4, causal=causal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stack(x)


def _attention_bundle(causal: bool, t: int) -> ModelBundle:
    return ModelBundle(id="attention", model=_Attention(causal), make_batch=lambda b, d: torch.randn(b, t, 64, device=d),
                       loss=lambda m, x: m(x).square().mean(), data_kind="synthetic", data_source="noise")


def test_causal_attention_is_about_half_of_full_attention():
    t = 512
    full = count_flops(_attention_bundle(False, t), CPU).attention_per_sample
    causal = count_flops(_attention_bundle(True, t), CPU).attention_per_sample
    assert full == 1 * 14 * t * t * 64  # non-causal: torch's full count, untouched
    assert causal == pytest.approx(full * causal_fraction(t, t))
    assert causal / full == pytest.approx(0.5, rel=0.02)
    assert causal_fraction(4, 4) == 10 / 16  # 1 + 2 + 3 + 4 of 16 pairs
    assert causal_fraction(2, 4) == 3 / 8  # top-left alignment: query i sees keys 0..i


def test_the_convolution_share_of_a_resnet_and_of_a_transformer():
    from planner.models import load_model

    _, resnet_share = flops_per_sample(load_model("resnet18"), CPU, batch_size=1)
    _, gpt_share = flops_per_sample(load_model("gpt-tiny"), CPU, batch_size=1)
    assert resnet_share > 0.95  # all but the final linear layer is convolution
    assert gpt_share == 0.0

"""Presets: published parameter counts (built on "meta"), one real step of each family at a tiny
size, and a fake-tensor training step of the full-size shapes (no real allocation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from planner.models import load_model
from planner.models.bert import BertConfig, bert_bundle
from planner.models.gpt import GPTConfig, gpt_bundle
from planner.models.resnet import resnet_bundle
from planner.models.text_data import stdlib_source
from planner.models.vit import ViTConfig, vit_bundle
from planner.probe import TrainStep, predict_step_peak

CPU = torch.device("cpu")

# Published sizes: GPT-2 (Radford et al. 2019, as counted by HF transformers), BERT-base,
# ViT-B/16 (Dosovitskiy et al. 2021), torchvision's ResNets.
PUBLISHED = {
    "gpt2-small": 124.4e6, "gpt2-medium": 354.8e6, "gpt2-large": 774.0e6, "bert-base": 110e6,
    "vit-b16": 86.6e6, "resnet18": 11.69e6, "resnet50": 25.56e6,
}


def param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", PUBLISHED)
def test_parameter_count_matches_the_published_figure(name):
    with torch.device("meta"):
        bundle = load_model(name)
    assert param_count(bundle.model) == pytest.approx(PUBLISHED[name], rel=0.01)


TINY = {
    "mlp": lambda: load_model("mlp"),
    "gpt-tiny": lambda: load_model("gpt-tiny"),
    "gpt-tiny-checkpointed": lambda: load_model("gpt-tiny", checkpointing=True),
    "gpt": lambda: gpt_bundle("gpt", GPTConfig(layers=2, width=32, heads=2, context=16, vocab=300), 16,
                              stdlib_source(), False),
    "bert": lambda: bert_bundle("bert", BertConfig(layers=2, width=32, heads=2, context=32, vocab=300), 24,
                                stdlib_source(), True),
    "vit": lambda: vit_bundle("vit", ViTConfig(image=32, patch=8, layers=2, width=32, heads=2, classes=10), True),
    "resnet18": lambda: resnet_bundle("resnet18", image=32),
    "resnet50": lambda: resnet_bundle("resnet50", image=32),
}


@pytest.mark.parametrize("name", TINY)
def test_each_family_takes_a_real_training_step(name):
    bundle = TINY[name]()
    step = TrainStep(bundle, CPU)
    before = [p.detach().clone() for p in bundle.model.parameters()]
    loss = step.forward_backward(bundle.make_batch(2, CPU))
    assert loss.ndim == 0 and math.isfinite(loss.item())
    assert all(p.grad is not None for p in bundle.model.parameters())  # every weight is wired in
    step.optimizer_step()
    changed = [not torch.equal(a, p) for a, p in zip(before, bundle.model.parameters())]
    assert sum(changed) >= 0.9 * len(changed)


@pytest.mark.parametrize("name", ["gpt2-small", "bert-base", "vit-b16", "resnet50"])
def test_full_size_preset_steps_on_fake_tensors(name):
    with FakeTensorMode(allow_non_fake_inputs=True):
        bundle = load_model(name)
    peak = predict_step_peak(bundle, 1, CPU, "fp32", "torch")
    # At least weights, gradients and AdamW's two moments, fp32: 16 bytes per parameter.
    assert 16 * param_count(bundle.model) < peak < 64 * param_count(bundle.model)


def test_vision_data_is_learnable_shapes_and_text_data_is_the_stdlib():
    images = resnet_bundle("resnet18", image=32)
    batch = images.make_batch(8, CPU)
    assert batch["images"].shape == (8, 3, 32, 32) and batch["images"].dtype == torch.float32
    assert images.data_kind == "synthetic" and "shapes" in images.data_source
    text = stdlib_source()
    assert text.kind == "real" and text.tokens.dtype.itemsize == 1 and len(text.tokens) > 1_000_000
    assert b"def " in text.tokens[:100_000].tobytes()


def test_lm_windows_vary_in_length_and_stay_inside_documents():
    source = stdlib_source()
    flat, offsets = source.sample(4096, 1024, np.random.default_rng(0))
    lengths = offsets[1:] - offsets[:-1]
    assert lengths.max() == 1024 and lengths.min() < 1024  # a window ends early at its file's end
    bundle = load_model("gpt-tiny")
    batch = bundle.make_batch(64, CPU)
    assert batch["input_ids"].shape == (64, 64)  # always padded to exactly seq_len


def test_bert_masks_about_fifteen_percent():
    bundle = bert_bundle("bert", BertConfig(layers=1, width=16, heads=2, context=128, vocab=300), 128,
                         stdlib_source(), False)
    batch = bundle.make_batch(64, CPU)
    real = batch["attention_mask"].bool()
    predicted = batch["labels"] != -100
    assert not (predicted & ~real).any()
    assert predicted.sum() / real.sum() == pytest.approx(0.15, abs=0.02)

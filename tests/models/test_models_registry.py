"""load_model: presets by name, user factories, options, and the user's token files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from planner.errors import BadInput
from planner.models import ModelBundle, list_presets, load_model

PRESETS = ["mlp", "gpt-tiny", "gpt2-small", "gpt2-medium", "gpt2-large", "bert-base", "vit-b16", "resnet18", "resnet50"]


def test_every_preset_is_listed():
    assert list_presets() == PRESETS


@pytest.mark.parametrize(
    "ref, message",
    [
        ("no_such_module:factory", r"cannot import 'no_such_module' \(ModuleNotFoundError: .*\); check the name"),
        ("tests.models.broken_module:factory", r"cannot import '.*broken_module' \(ModuleNotFoundError: No module"),
        ("tests.models.user_factories:missing", r"module 'tests.models.user_factories' has no attribute 'missing'"),
        ("tests.models.user_factories:NOT_A_FUNCTION", r"user_factories:NOT_A_FUNCTION is a int, not a function"),
        ("tests.models.user_factories:raises", r"raises\(\) raised RuntimeError: weights not found; call it by hand"),
        ("tests.models.user_factories:returns_wrong_type", r"returned dict, not a planner.models.ModelBundle"),
        ("tests.models.user_factories:", r"not of the form package.module:factory"),
        ("gpt-huge", r"unknown model 'gpt-huge': use one of mlp, gpt-tiny"),
    ],
)
def test_bad_model_references_are_one_line_bad_input(ref, message):
    with pytest.raises(BadInput, match=message) as info:
        load_model(ref)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "ref, options, message",
    [
        ("resnet18", {"seq_len": 64}, r"resnet18 takes no --seq-len"),
        ("mlp", {"checkpointing": True}, r"mlp has no activation checkpointing"),
        ("vit-b16", {"data": "tokens.npy"}, r"vit-b16 takes no --data"),
        ("gpt-tiny", {"seq_len": 65}, r"--seq-len 65 is out of range for gpt-tiny: give 1..64"),
        ("tests.models.user_factories:raises", {"seq_len": 8}, r"apply to presets only"),
    ],
)
def test_options_a_model_does_not_take_are_refused(ref, options, message):
    with pytest.raises(BadInput, match=message):
        load_model(ref, **options)


def test_seq_len_sets_the_batch_width():
    bundle = load_model("gpt-tiny", seq_len=16)
    batch = bundle.make_batch(3, torch.device("cpu"))
    assert bundle.seq_len == 16 and batch["input_ids"].shape == (3, 16)


def test_user_token_file_feeds_a_gpt_preset(tmp_path):
    path = tmp_path / "tokens.npy"
    np.save(path, np.arange(1000, dtype=np.int32) % 200)
    bundle = load_model("gpt-tiny", data=path)
    batch = bundle.make_batch(4, torch.device("cpu"))
    ids, labels = batch["input_ids"], batch["labels"]
    assert ids.shape == (4, 64) and ids.max() < 200
    real = labels != -100  # labels are the next token of the counting stream, where there is one
    assert real.any() and torch.equal(labels[real], ((ids + 1) % 200)[real])
    assert bundle.data_kind == "real" and "tokens.npy" in bundle.data_source


def test_pt_token_file(tmp_path):
    path = tmp_path / "tokens.pt"
    torch.save(torch.randint(0, 256, (500,)), path)
    assert load_model("gpt-tiny", data=path).make_batch(2, torch.device("cpu"))["input_ids"].shape == (2, 64)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.npy", None, r"no such file"),
        ("floats.npy", np.zeros(100, dtype=np.float32), r"token ids must be integers, found float32"),
        ("matrix.npy", np.zeros((10, 10), dtype=np.int64), r"expected a 1-D array .* shape \(10, 10\)"),
        ("big_ids.npy", np.array([0, 300], dtype=np.int64), r"ids span \[0, 300\] but .* vocabulary is \[0, 256\)"),
        ("tokens.txt", b"hello", r"unknown format '.txt'; use .npy or .pt"),
        ("dict.pt", {"ids": [1, 2]}, r"holds dict, not a tensor"),
    ],
)
def test_bad_token_files_are_bad_input(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(BadInput, match=message):
        load_model("gpt-tiny", data=path)


def test_a_factory_returning_a_bundle_loads():
    bundle = load_model("planner.models.mlp:mlp_bundle")
    assert isinstance(bundle, ModelBundle) and bundle.id == "mlp"

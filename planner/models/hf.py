"""Hugging Face configs as models that are traced, never run: built on the meta device, no weights.

`--model-config PATH/config.json` reads a config offline; `--model hf:<hub-id>` asks transformers
for it (the local HF cache, else the network). transformers is the optional extra
`batchfit[hf]`: without it both fail with a one-line error naming the install. The model is made
by `AutoModelForCausalLM.from_config` (or the class the config's `architectures` names) under
`torch.device("meta")`, so even a 70B config costs no memory for weights.
"""

from __future__ import annotations

import copy
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from planner.errors import BadInput
from planner.models.messages import one_line

HF_PREFIX = "hf:"
INSTALL_HINT = "pip install 'batchfit[hf]' (transformers)"


def _transformers() -> Any:
    try:
        return importlib.import_module("transformers")
    except ImportError:
        raise BadInput(f"Hugging Face configs need transformers: {INSTALL_HINT}") from None


def is_hf_ref(ref: str | None) -> bool:
    return bool(ref) and str(ref).startswith(HF_PREFIX)


def load_config(source: str) -> Any:
    """A PretrainedConfig from `hf:<id>` or from a config.json path (or the folder holding one)."""
    tf = _transformers()
    if source.startswith(HF_PREFIX):
        hub_id = source[len(HF_PREFIX):]
        if not hub_id:
            raise BadInput("--model hf: needs a hub id, e.g. hf:meta-llama/Meta-Llama-3-8B")
        try:
            return tf.AutoConfig.from_pretrained(hub_id)
        except Exception as exc:  # OSError offline, ValueError for an unknown model type
            raise BadInput(f"cannot load the config of {hub_id!r} ({one_line(exc)}); "
                           "check the id, or download its config.json and give --model-config PATH") from None
    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise BadInput(f"--model-config {source}: no such file; give the path of a Hugging Face config.json")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"--model-config {source} is not JSON ({one_line(exc)}); give a Hugging Face config.json") from None
    if not isinstance(data, dict) or "model_type" not in data:
        raise BadInput(f"--model-config {source} has no model_type; a Hugging Face config.json names one "
                       "(e.g. \"model_type\": \"llama\")")
    try:
        config_class = tf.AutoConfig.for_model(data["model_type"]).__class__
        return config_class.from_dict(data)
    except Exception as exc:
        raise BadInput(f"--model-config {source}: transformers cannot read it ({one_line(exc)})") from None


def config_id(source: str, config: Any) -> str:
    """A short model id for reports: the hub id, or the config file's folder/name."""
    if source.startswith(HF_PREFIX):
        return source
    path = Path(source)
    name = path.parent.name if path.name == "config.json" else path.stem
    return f"{config.model_type}:{name or path.stem}"


def config_seq_len(config: Any) -> int | None:
    """The longest sequence the config's position table or rotary setting allows."""
    for key in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def with_depth(config: Any, layers: int) -> Any:
    """A copy of the config with `layers` decoder layers (per-layer lists cut to match)."""
    cfg = copy.deepcopy(config)
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if hasattr(cfg, key) and isinstance(getattr(cfg, key), int):
            setattr(cfg, key, layers)
    types = getattr(cfg, "layer_types", None)
    if isinstance(types, list):
        cfg.layer_types = types[:layers]
    return cfg


def depth(config: Any) -> int:
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    raise BadInput(f"the {config.model_type} config names no layer count (num_hidden_layers); "
                   "batchfit traces decoder stacks only")


def build_meta_model(config: Any, dtype: torch.dtype) -> nn.Module:
    """The causal-LM model of `config` on the meta device: shapes only, no weight memory.

    Attention is PyTorch's scaled_dot_product_attention (flash-style memory, the kernel a
    training run uses), and the KV cache is off: a training step keeps none.
    """
    tf = _transformers()
    cfg = copy.deepcopy(config)
    cfg.use_cache = False
    model_class = _model_class(tf, cfg)
    try:
        with torch.device("meta"):
            if model_class is None:
                model = tf.AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation="sdpa")
            else:
                model = model_class._from_config(cfg, dtype=dtype, attn_implementation="sdpa")
    except Exception as exc:
        raise BadInput(f"transformers cannot build a causal LM from the {cfg.model_type} config "
                       f"({one_line(exc)})") from None
    return model


def _model_class(tf: Any, config: Any) -> Any:
    """The class the config's `architectures` names, when transformers has it."""
    for name in getattr(config, "architectures", None) or []:
        cls = getattr(tf, name, None)
        if cls is not None and name.endswith("ForCausalLM"):
            return cls
    return None


@dataclass(frozen=True)
class Units:
    """The blocks FSDP wraps one by one: the decoder layers, and the embedding/head outside them."""

    count: int
    largest_params: int  # parameters of the largest unit (a decoder layer, or the embedding)
    layer_params: tuple[int, ...]
    layer_kinds: tuple[str, ...]
    root_params: int  # outside the layers: embedding, final norm, head

    @property
    def homogeneous(self) -> bool:
        return len(set(zip(self.layer_params, self.layer_kinds))) <= 1


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The ModuleList holding the most parameters: the decoder stack of every HF causal LM."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not lists:
        raise BadInput(f"{type(model).__name__} has no layer list; batchfit traces decoder stacks only")
    return max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))


def units(model: nn.Module) -> Units:
    layers = decoder_layers(model)
    layer_params = tuple(sum(p.numel() for p in layer.parameters()) for layer in layers)
    in_layers = {id(p) for p in layers.parameters()}
    outside = sum(p.numel() for p in model.parameters() if id(p) not in in_layers)
    # FSDP wraps each layer, and the root holds what is left (embedding, final norm, head).
    return Units(count=len(layers) + (1 if outside else 0), largest_params=max(*layer_params, outside),
                 layer_params=layer_params, layer_kinds=tuple(type(layer).__name__ for layer in layers),
                 root_params=outside)

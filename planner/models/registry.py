"""Model references -> ModelBundle: built-in presets by name, or a user's `package.module:factory`.

Every preset is defined in this repository (no downloads). Options that only make sense for
some presets (sequence length, activation checkpointing, the user's token file) are refused with
a BadInput naming the presets that take them, never silently ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from planner.errors import BadInput, Interrupted
from planner.models.bert import BertConfig, bert_bundle
from planner.models.bundle import ModelBundle
from planner.models.gpt import GPT_CONFIGS, gpt_bundle
from planner.models.messages import one_line
from planner.models.mlp import mlp_bundle
from planner.models.resnet import RESNET_LAYOUTS, resnet_bundle
from planner.models.text_data import stdlib_source, text_source
from planner.models.vit import ViTConfig, vit_bundle

BERT_SEQ_LEN = 128  # BERT pre-training's phase-1 length; the position table still holds 512


@dataclass(frozen=True)
class PresetOptions:
    seq_len: int | None = None
    checkpointing: bool = False
    data: Path | None = None


def _gpt(name: str, opts: PresetOptions) -> ModelBundle:
    cfg = GPT_CONFIGS[name]
    seq_len = _seq_len(name, opts.seq_len, default=cfg.context, limit=cfg.context)
    return gpt_bundle(name, cfg, seq_len, text_source(opts.data, cfg.vocab), opts.checkpointing)


def _bert(name: str, opts: PresetOptions) -> ModelBundle:
    _refuse(name, opts, data=True)
    cfg = BertConfig()
    seq_len = _seq_len(name, opts.seq_len, default=BERT_SEQ_LEN, limit=cfg.context)
    return bert_bundle(name, cfg, seq_len, stdlib_source(), opts.checkpointing)


def _vit(name: str, opts: PresetOptions) -> ModelBundle:
    _refuse(name, opts, seq_len=True, data=True)
    return vit_bundle(name, ViTConfig(), opts.checkpointing)


def _resnet(name: str, opts: PresetOptions) -> ModelBundle:
    _refuse(name, opts, seq_len=True, checkpointing=True, data=True)
    return resnet_bundle(name)


def _mlp(name: str, opts: PresetOptions) -> ModelBundle:
    _refuse(name, opts, seq_len=True, checkpointing=True, data=True)
    return mlp_bundle(name)


PRESETS: dict[str, Callable[[str, PresetOptions], ModelBundle]] = {
    "mlp": _mlp,
    **{name: _gpt for name in GPT_CONFIGS},
    "bert-base": _bert,
    "vit-b16": _vit,
    **{name: _resnet for name in RESNET_LAYOUTS},
}


def list_presets() -> list[str]:
    return list(PRESETS)


def load_model(
    ref: str, *, seq_len: int | None = None, checkpointing: bool = False, data: Path | None = None
) -> ModelBundle:
    """A preset name or `package.module:factory` -> ModelBundle (model on the CPU, or wherever
    the ambient `torch.device(...)` context puts it -- the tests build the big presets on "meta").

    seq_len: tokens per sample for the sequence presets (default: the preset's own).
    checkpointing: activation checkpointing for the transformer presets.
    data: a .npy/.pt file of token ids for the GPT presets, instead of the stdlib corpus.
    Raises BadInput with a one-line message that names the problem and the fix.
    """
    opts = PresetOptions(seq_len=seq_len, checkpointing=checkpointing, data=data)
    if ":" in ref:
        if opts != PresetOptions():
            raise BadInput(f"--seq-len, --checkpointing and --data apply to presets only; set them inside {ref}")
        return _load_factory(ref)
    if ref not in PRESETS:
        raise BadInput(f"unknown model {ref!r}: use one of {', '.join(PRESETS)} or package.module:factory")
    return PRESETS[ref](ref, opts)


def _load_factory(ref: str) -> ModelBundle:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise BadInput(f"model {ref!r} is not of the form package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while importing {module_name!r}") from None
    except (Exception, SystemExit) as exc:  # ImportError, anything the module raises or exits with while importing
        raise BadInput(f"cannot import {module_name!r} ({one_line(exc)}); "
                       "check the name and that it is on PYTHONPATH") from exc
    factory = getattr(module, attr, None)
    if factory is None:
        raise BadInput(f"module {module_name!r} has no attribute {attr!r}; name a function that returns a ModelBundle")
    if not callable(factory):
        raise BadInput(f"{ref} is a {type(factory).__name__}, not a function; "
                       "name a function that returns a ModelBundle")
    try:
        bundle = factory()
    except KeyboardInterrupt:  # Ctrl-C while the factory ran: batchfit's interruption, not the factory's failure
        raise Interrupted(f"interrupted while {ref}() ran; nothing was measured") from None
    except SystemExit as exc:  # sys.exit() in the user's code must not end batchfit with its code
        raise BadInput(f"{ref}() called sys.exit({exc.code!r}); return a ModelBundle instead of exiting") from None
    except Exception as exc:
        raise BadInput(f"{ref}() raised {one_line(exc)}; call it by hand to see the traceback and fix it") from exc
    if not isinstance(bundle, ModelBundle):
        raise BadInput(f"{ref}() returned {type(bundle).__name__}, not a planner.models.ModelBundle; "
                       "return ModelBundle(id=..., model=..., make_batch=..., loss=..., ...)")
    return bundle


def _seq_len(name: str, seq_len: int | None, default: int, limit: int) -> int:
    if seq_len is None:
        return default
    if not 1 <= seq_len <= limit:
        raise BadInput(f"--seq-len {seq_len} is out of range for {name}: give 1..{limit}")
    return seq_len


def _refuse(name: str, opts: PresetOptions, *, seq_len: bool = False, checkpointing: bool = False,
            data: bool = False) -> None:
    """BadInput for an option this preset does not take, saying which presets do."""
    if seq_len and opts.seq_len is not None:
        raise BadInput(f"{name} takes no --seq-len; sequence presets are: {', '.join([*GPT_CONFIGS, 'bert-base'])}")
    if checkpointing and opts.checkpointing:
        raise BadInput(f"{name} has no activation checkpointing; the transformer presets do: "
                       f"{', '.join([*GPT_CONFIGS, 'bert-base', 'vit-b16'])}")
    if data and opts.data is not None:
        raise BadInput(f"{name} takes no --data; token files feed the GPT presets: {', '.join(GPT_CONFIGS)}")

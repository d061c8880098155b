"""Trace the model shapes of `pricing/throughput.csv` and write `pricing/throughput_shapes.csv`.

Each public throughput row names a shape; the prior fit (planner/plan/calibration.py) needs the
same numbers a CPU probe of that shape reports: FLOPs per sample (forward + backward, counted
by the probe's own FlopCounterMode on fake tensors), the convolution share of them, parameters
and parameter tensors (the eager host floor is per tensor). Models are built on the meta device,
so the 13B shape costs Python time only.

    python bench/trace_shapes.py            # rewrite the CSV
    python bench/trace_shapes.py --check    # exit 1 if the committed CSV differs from a fresh trace
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from planner.models.bundle import ModelBundle
from planner.models.bert import BertConfig, bert_bundle
from planner.models.gpt import GPTConfig, gpt_bundle
from planner.models.registry import load_model
from planner.models.text_data import stdlib_source
from planner.models.transformer import BlockStack
from planner.probe.flops import flops_per_sample

OUT = Path(__file__).resolve().parent.parent / "pricing" / "throughput_shapes.csv"
MPT_VOCAB = 50368  # llm-foundry's MPT tokenizer (GPT-NeoX 50277 padded to a multiple of 64)
COLUMNS = ["model", "family", "what", "seq_len", "params", "param_tensors", "flops_per_sample",
           "conv_fraction", "traced_with"]


@dataclass(frozen=True)
class Shape:
    model: str
    family: str  # cnn | vit | encoder | decoder
    what: str  # how the shape was built, for a reader
    seq_len: int | None


def _mpt(size: str, layers: int, width: int, heads: int, seq: int) -> tuple[Shape, GPTConfig]:
    shape = Shape(f"mpt-{size}-s{seq}", "decoder",
                  f"GPT preset class, {layers} x {width}, {heads} heads, vocab {MPT_VOCAB} (MPT-{size} shape)", seq)
    return shape, GPTConfig(layers=layers, width=width, heads=heads, context=seq, vocab=MPT_VOCAB)


MPT = [_mpt("125m", 12, 768, 12, 2048), _mpt("350m", 24, 1024, 16, 2048), _mpt("760m", 24, 1536, 12, 2048),
       _mpt("1b", 24, 2048, 16, 2048), _mpt("3b", 32, 2560, 20, 1024), _mpt("7b", 32, 4096, 32, 2048),
       _mpt("13b", 40, 5120, 40, 2048)]
PRESETS = [Shape("gpt2-small", "decoder", "preset gpt2-small", 1024), Shape("bert-base", "encoder", "preset bert-base", 128),
           Shape("resnet50", "cnn", "preset resnet50, 224x224", None), Shape("vit-b16", "vit", "preset vit-b16, 224x224", None)]
BERT = [(Shape("bert-large-s512", "encoder", "BERT preset class, 24 x 1024, 16 heads, vocab 30522 (BERT-large)", 512),
         BertConfig(layers=24, width=1024, heads=16, context=512))]
LAYERS = [(Shape("bert-large-layer-s128", "encoder", "one encoder block, width 1024, 16 heads (a BERT-large layer)", 128), False),
          (Shape("gpt2-medium-block-s512", "decoder", "one causal block, width 1024, 16 heads (a GPT-2 medium block)", 512), True)]


def _block_bundle(shape: Shape, causal: bool) -> ModelBundle:
    seq = shape.seq_len or 1

    def make_batch(batch: int, device: torch.device) -> torch.Tensor:
        return torch.randn(batch, seq, 1024, device=device)

    return ModelBundle(id=shape.model, model=BlockStack(1, 1024, 16, causal=causal),
                       make_batch=make_batch, loss=lambda model, x: model(x).float().sum(),
                       data_kind="synthetic", data_source="random activations", seq_len=seq)


def _bundles() -> list[tuple[Shape, ModelBundle]]:
    with torch.device("meta"):
        out = [(s, load_model(s.model, seq_len=s.seq_len if s.family in ("decoder", "encoder") else None))
               for s in PRESETS]
        out += [(s, gpt_bundle(s.model, cfg, cfg.context, stdlib_source(), False)) for s, cfg in MPT]
        out += [(s, bert_bundle(s.model, cfg, cfg.context, stdlib_source(), False)) for s, cfg in BERT]
        out += [(s, _block_bundle(s, causal)) for s, causal in LAYERS]
    return out


def trace(only: set[str] | None = None) -> str:
    """The CSV text; `only` keeps the named shapes (the header always)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for shape, bundle in _bundles():
        if only is not None and shape.model not in only:
            continue
        flops, conv = flops_per_sample(bundle, torch.device("cpu"))
        params = list(bundle.model.parameters())
        writer.writerow([shape.model, shape.family, shape.what, shape.seq_len or "", sum(p.numel() for p in params),
                         len(params), f"{flops:.6g}", f"{conv:.6f}", f"torch {torch.__version__.split('+')[0]} FlopCounterMode"])
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed CSV instead of writing it")
    args = parser.parse_args()
    fresh = trace()
    if args.check:
        same = OUT.exists() and OUT.read_text() == fresh
        print("throughput_shapes.csv matches a fresh trace" if same else "throughput_shapes.csv differs from a fresh trace")
        return 0 if same else 1
    OUT.write_text(fresh)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

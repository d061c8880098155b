"""GPU-check stage `traced-vs-real`: the traced probe's memory and step time for the ~1B
Llama-shaped config against real training steps of the same model on this GPU.

    python bench/gpu_stages/traced_vs_real.py --out DIR          (CUDA: about 90 s on an H200)
    python bench/gpu_stages/traced_vs_real.py --out DIR --tiny   (a 2-layer Llama config, any device)

Settings: sequence 2048 and 4096, no and full activation checkpointing, two batch sizes each.
Real step: weights, gradients and AdamW(fused) state in fp32, forward and loss under bf16
autocast (what the trace assumes), random token ids; peak = max_memory_allocated over 3 timed
steps after one warm-up step, time = CUDA events per step (median). Predicted peak = the traced
report's static bytes (with the mode's transient) + batch × the mode's activation bytes per
sample; predicted time = the planner's step-time model for this GPU, its compute part scaled by
the mode's FLOPs over the no-checkpointing FLOPs. Then the real OOM boundary for sequence 2048
without checkpointing, searched from the predicted largest batch (no margin).

Needs what the scale issue (15) builds: transformers (`batchfit[hf]`; the device machine has no
network, so carry the wheels), planner.probe.trace.trace_config and the llama-1b.json fixture.
Without them it writes what is missing and exits 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stage_common  # first: it puts the repository on sys.path
import torch

STAGE = "traced-vs-real"
CONFIG = stage_common.REPO / "tests" / "models" / "hf_configs" / "llama-1b.json"
# (sequence, checkpointing, batches): ~5 GB of activations per sample at 2048 without
# checkpointing (the 128k-vocab logits are half of it), so these fit an 80 GB card.
SETTINGS = [(2048, "none", (2, 4)), (2048, "full", (4, 8)), (4096, "none", (1, 2)), (4096, "full", (2, 4))]
BOUNDARY_SETTING = (2048, "none")
TINY_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512, "hidden_size": 64,
               "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "head_dim": 16, "max_position_embeddings": 128, "tie_word_embeddings": True}
TINY_SETTINGS = [(32, "none", (1, 2)), (32, "full", (1, 2))]
TIMED = 3
BOUNDARY_TRIES = 4


def missing(config: Path) -> list[str]:
    """What this stage needs and does not find, each named with where it comes from."""
    gaps = []
    if importlib.util.find_spec("transformers") is None:
        gaps.append("transformers (pip install 'batchfit[hf]'; on the device machine carry its wheels)")
    try:
        trace = importlib.import_module("planner.probe.trace")
    except ImportError:
        gaps.append("planner/probe/trace.py (the scale issue, 15)")
    else:
        if not hasattr(trace, "trace_config"):
            gaps.append("planner.probe.trace.trace_config (the scale issue, 15)")
    if not config.exists():
        gaps.append(f"{_shown(config)} (the scale issue's HF config fixtures)")
    return gaps


def _shown(path: Path) -> str:
    """`path` relative to the repository where it lies inside it."""
    return str(path.relative_to(stage_common.REPO)) if path.is_relative_to(stage_common.REPO) else str(path)


def boundary_search(runs: Callable[[int], bool], predicted: int, tries: int = BOUNDARY_TRIES) -> dict:
    """The real OOM boundary near `predicted`: ~10% steps up from a batch that ran or down from
    one that did not until both are known, then bisection, at most `tries` runs."""
    last_ok: int | None = None
    first_oom: int | None = None
    tried = []
    batch = max(1, predicted)
    for _ in range(tries):
        ran = runs(batch)
        tried.append({"batch": batch, "ran": ran})
        if ran:
            last_ok = batch if last_ok is None else max(last_ok, batch)
        else:
            first_oom = batch if first_oom is None else min(first_oom, batch)
        if last_ok is not None and first_oom is not None:
            if first_oom - last_ok <= 1:
                break
            batch = (last_ok + first_oom) // 2
        elif ran:
            batch += max(1, batch // 10)
        elif batch == 1:
            break
        else:
            batch = max(1, batch - max(1, batch // 10))
    return {"predicted_largest": predicted, "last_ok": last_ok, "first_oom": first_oom, "tried": tried}


def predicted_peak_bytes(report: Any, checkpointing: str, batch: int) -> float:
    """Static bytes (the report's, with this mode's transient instead of no-checkpointing's)
    plus batch × this mode's activation bytes per sample."""
    mode = report.trace.mode(checkpointing)
    none = report.trace.mode("none") or mode
    static = report.memory_fit.static_bytes - none.transient_bytes + mode.transient_bytes
    return static + batch * mode.activation_bytes_per_sample


def predicted_largest(report: Any, checkpointing: str, capacity: int) -> int:
    """The largest batch the trace allows at `capacity` bytes, with no margin."""
    mode = report.trace.mode(checkpointing)
    static = predicted_peak_bytes(report, checkpointing, 0)
    return max(0, math.floor((capacity - static) / mode.activation_bytes_per_sample))


def predicted_step_s(report: Any, checkpointing: str, batch: int, spec: Any) -> float:
    from planner.plan.step_time import StepTimeModel

    base = StepTimeModel(report, None, "bf16").predict(spec, 1, batch, 1)
    ratio = report.trace.mode(checkpointing).flops_per_sample / report.model.flops_per_sample
    return max(base.host_s, base.compute_s * ratio + base.fixed_s)


class RealModel:
    """The config's model on `device`, fp32 weights, bf16 autocast, AdamW(fused), no cache."""

    def __init__(self, config_path: Path, device: torch.device) -> None:
        import transformers

        raw = json.loads(config_path.read_text())
        config = transformers.AutoConfig.for_model(raw.pop("model_type"), **raw)
        config.use_cache = False
        with torch.device(device):
            model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
        self.model = model.float().train()  # fp32 weights whatever the config or library default
        self.vocab = config.vocab_size
        self.device = device
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=device.type == "cuda" or None)

    def checkpointing(self, mode: str) -> None:
        """Full checkpointing: every decoder layer recomputed in backward. transformers 5.2x
        renamed gradient_checkpointing_* to activation_checkpointing_*; the device has 5.17."""
        kwargs = {"use_reentrant": False}
        if hasattr(self.model, "activation_checkpointing_enable"):
            if mode == "full":
                self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                self.model.activation_checkpointing_disable()
        elif mode == "full":
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        else:
            self.model.gradient_checkpointing_disable()

    def step(self, ids: torch.Tensor) -> None:
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            loss = self.model(input_ids=ids, labels=ids).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def measure(self, seq: int, batch: int, timed: int) -> dict:
        """Peak bytes and median step seconds; an OOM is the result, not an error."""
        try:
            ids = torch.randint(self.vocab, (batch, seq), device=self.device)
            self.step(ids)  # warm-up: the optimizer state exists after the first step
            stage_common.reset_peak(self.device)
            times = stage_common.step_seconds(lambda: self.step(ids), self.device, timed)
            return {"status": "ok", "peak_bytes": stage_common.peak_bytes(self.device),
                    "step_s": statistics.median(times), "step_min_s": min(times), "step_max_s": max(times)}
        except Exception as exc:
            if not stage_common.is_out_of_memory(exc):
                raise
            return {"status": "oom"}
        finally:
            self.optimizer.zero_grad(set_to_none=True)
            stage_common.free(self.device)


def run(config_path: Path, settings: list, device: torch.device, boundary: tuple[int, str] | None) -> dict:
    from planner.probe.trace import trace_config

    from planner.plan.gpu_match import match_local_gpu
    from providers.catalog import load_gpu_specs

    info = stage_common.local_gpu(device)
    spec = match_local_gpu(info, load_gpu_specs()) if info is not None else None
    real = RealModel(config_path, device)
    rows = []
    reports = {}
    for seq, checkpointing, batches in settings:
        if seq not in reports:
            reports[seq] = trace_config(str(config_path), seq, "bf16", modes=("none", "full"))
        report = reports[seq]
        real.checkpointing(checkpointing)
        for batch in batches:
            row = {"seq_len": seq, "checkpointing": checkpointing, "batch": batch,
                   "predicted_peak_bytes": predicted_peak_bytes(report, checkpointing, batch),
                   "predicted_step_s": predicted_step_s(report, checkpointing, batch, spec) if spec else None}
            row |= real.measure(seq, batch, TIMED)
            row["peak_error"] = stage_common.relative_error(row["predicted_peak_bytes"], row.get("peak_bytes"))
            row["step_time_error"] = stage_common.relative_error(row["predicted_step_s"], row.get("step_s"))
            rows.append(row)
            print(f"seq {seq} {checkpointing:<4} B={batch:<3} {row['status']:<4} peak {row.get('peak_bytes') or 0:.3e} "
                  f"(predicted {row['predicted_peak_bytes']:.3e}) step {row.get('step_s') or 0:.3f} s")
    result: dict = {"config": _shown(config_path), "gpu_spec": spec.name if spec else None, "rows": rows}
    if boundary is not None and device.type == "cuda":
        seq, checkpointing = boundary
        real.checkpointing(checkpointing)
        capacity = torch.cuda.get_device_properties(device).total_memory
        largest = predicted_largest(reports[seq], checkpointing, capacity)
        search = boundary_search(lambda b: real.measure(seq, b, 1)["status"] == "ok", largest)
        result["oom_boundary"] = {"seq_len": seq, "checkpointing": checkpointing, "capacity_bytes": capacity} | search
        print(f"OOM boundary seq {seq} {checkpointing}: predicted {largest}, ran {search['last_ok']}, "
              f"OOM at {search['first_oom']}")
    return result


def main(argv: list[str] | None = None) -> int:
    args = stage_common.parse_args(__doc__.splitlines()[0], argv=argv)
    device = torch.device(args.device)
    config_path = CONFIG
    if args.tiny:
        config_path = args.out / "tiny-llama.json"
        args.out.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(TINY_CONFIG, indent=2) + "\n")
    head = stage_common.header(STAGE, device)
    gaps = missing(config_path)
    if gaps:
        print(f"{STAGE} needs: {'; '.join(gaps)}")
        stage_common.write(args.out, STAGE, {"header": head, "status": "missing", "missing": gaps})
        return 2
    result = run(config_path, TINY_SETTINGS if args.tiny else SETTINGS, device, None if args.tiny else BOUNDARY_SETTING)
    stage_common.write(args.out, STAGE, {"header": head, "status": "ok", "timed_steps": TIMED} | result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

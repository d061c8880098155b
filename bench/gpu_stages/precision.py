"""GPU-check stage `precision`: ResNet-50 and GPT-2 small in fp32, bf16 and fp16, one large batch
each, measured throughput beside the planner's prediction for the same GPU and precision.

    python bench/gpu_stages/precision.py --out DIR          (CUDA: about 50 s on an H200)
    python bench/gpu_stages/precision.py --out DIR --tiny   (gpt-tiny and mlp, any device)

fp32 runs with torch's TF32 defaults, recorded in the header (convolutions on TF32 tensor cores,
matmuls not); bf16 under autocast; fp16 under autocast with a GradScaler. Weights, gradients and
AdamW(fused) state stay fp32 in all three, as in the probe. The prediction comes from the
committed CPU probe of the same model (bench/results/*-cpu-bf16.json: FLOPs per sample, the
planner's priors) and the spec of the GPU at hand, as bench/prediction_check.py makes it.
"""

from __future__ import annotations

import contextlib
import statistics
import typing

import stage_common  # first: it puts the repository on sys.path
import torch

from planner.contracts.probe import DeviceInfo
from planner.contracts.request import Precision
from planner.models.registry import load_model
from planner.plan.gpu_match import match_local_gpu
from planner.plan.step_time import StepTimeModel
from planner.report_file import load_probe_report
from providers.catalog import load_gpu_specs

STAGE = "precision"
PRECISIONS = ("fp32", "bf16", "fp16")
# model -> (batch, committed CPU probe the prediction starts from). Batches: large, and well
# inside an 80 GB card in fp32 (GPT-2 small at 32 peaks near 27 GiB in bf16 on the H200).
MODELS = {"gpt2-small": (32, "gpt2-small-cpu-bf16.json"), "resnet50": (256, "resnet50-cpu-bf16.json")}
TINY_MODELS = {"gpt-tiny": (4, None), "mlp": (8, None)}
WARMUP, TIMED = 2, 3
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


class PrecisionStep:
    """One training step of a preset at a precision: autocast, GradScaler for fp16, AdamW."""

    def __init__(self, name: str, precision: str, device: torch.device) -> None:
        self.bundle = load_model(name)
        self.device = device
        self.precision = precision
        self.model = self.bundle.model.to(device).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=device.type == "cuda" or None)
        self.scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None

    def __call__(self, batch: object) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        autocast = (torch.autocast(self.device.type, dtype=AUTOCAST[self.precision])
                    if self.precision in AUTOCAST else contextlib.nullcontext())
        with autocast:
            loss = self.bundle.loss(self.model, batch)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()


def measure(name: str, batch_size: int, precision: str, device: torch.device) -> dict:
    row: dict = {"model": name, "batch": batch_size, "precision": precision}
    try:
        step = PrecisionStep(name, precision, device)
        batch = step.bundle.make_batch(batch_size, device)
        for _ in range(WARMUP):
            step(batch)
        stage_common.reset_peak(device)
        times = stage_common.step_seconds(lambda: step(batch), device, TIMED)
        row |= {"status": "ok", "step_s": statistics.median(times), "step_min_s": min(times),
                "step_max_s": max(times), "samples_per_s": batch_size / statistics.median(times),
                "peak_bytes": stage_common.peak_bytes(device)}
        if step.scaler is not None:
            row["grad_scale_after"] = float(step.scaler.get_scale())
    except Exception as exc:  # an OOM or a model error is this row's result, not the stage's end
        row |= {"status": "oom" if stage_common.is_out_of_memory(exc) else "error", "reason": str(exc)[:300]}
    finally:
        stage_common.free(device)
    return row


def predict(probe_file: str | None, batch_size: int, precision: str, info: DeviceInfo | None) -> dict:
    """The planner's step time for the GPU `info` names, from a committed CPU probe; or why none."""
    if probe_file is None:
        return {"predicted_s": None, "prediction_note": "tiny run: no committed CPU probe to predict from"}
    if info is None:
        return {"predicted_s": None, "prediction_note": "no GPU: nothing to predict for"}
    spec = match_local_gpu(info, load_gpu_specs())
    if spec is None:
        return {"predicted_s": None, "prediction_note": f"no GPU spec matches {info.name}"}
    cpu_probe = load_probe_report(stage_common.REPO / "bench" / "results" / probe_file)
    note = f"from {probe_file} on {spec.name}"
    if precision not in typing.get_args(Precision):
        note += f"; {precision} is not a request precision yet: the step-time model at the spec's {precision} ceiling"
    predicted = StepTimeModel(cpu_probe, None, precision).predict(spec, 1, batch_size, 1)
    return {"predicted_s": predicted.seconds, "prediction_provenance": predicted.provenance,
            "predicted_samples_per_s": batch_size / predicted.seconds, "prediction_note": note}


def main(argv: list[str] | None = None) -> int:
    args = stage_common.parse_args(__doc__.splitlines()[0], argv=argv)
    device = torch.device(args.device)
    rows = []
    for name, (batch_size, probe_file) in (TINY_MODELS if args.tiny else MODELS).items():
        for precision in PRECISIONS:
            row = measure(name, batch_size, precision, device)
            row |= predict(probe_file, batch_size, precision, stage_common.local_gpu(device))
            row["step_time_error"] = stage_common.relative_error(row.get("predicted_s"), row.get("step_s"))
            rows.append(row)
            print(f"{name:<11} {precision:<5} B={batch_size:<4} {row['status']:<6} "
                  f"{row.get('samples_per_s') or 0:9.1f} samples/s  predicted {row.get('predicted_samples_per_s') or 0:9.1f}")
    stage_common.write(args.out, STAGE, {"header": stage_common.header(STAGE, device), "warmup_steps": WARMUP,
                                         "timed_steps": TIMED, "rows": rows})
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

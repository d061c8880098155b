"""The GPU-check stages' logic on CPU-sized shapes (bench/gpu_stages/): what a GPU run relies on."""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "gpu_stages"))

import compile_speed  # noqa: E402
import precision  # noqa: E402
import stage_common  # noqa: E402
import sweep_stability  # noqa: E402
import traced_vs_real  # noqa: E402

from planner.contracts.probe import DeviceInfo, ProbeReport  # noqa: E402
from planner.contracts.request import Precision  # noqa: E402
from planner.report_file import load_probe_report  # noqa: E402

H200 = DeviceInfo(kind="cuda", name="NVIDIA H200", memory_bytes=150754820096, memory_source="device")
CPU = torch.device("cpu")


def test_header_names_card_date_commit_and_tf32_flags(monkeypatch):
    monkeypatch.setenv("BATCHFIT_COMMIT", "abc1234")
    head = stage_common.header("precision", CPU)
    assert head["stage"] == "precision" and head["commit"] == "abc1234" and head["card"].startswith("cpu")
    assert head["date"].endswith("+00:00")
    assert head["tf32"]["cudnn.allow_tf32"] == torch.backends.cudnn.allow_tf32


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16"])
def test_precision_step_trains_at_each_precision(name):
    row = precision.measure("mlp", 4, name, CPU)
    assert row["status"] == "ok", row
    assert row["step_s"] > 0 and row["samples_per_s"] == pytest.approx(4 / row["step_s"])
    assert ("grad_scale_after" in row) == (name == "fp16")


def test_precision_prediction_for_an_h200_from_the_committed_cpu_probe():
    fp32 = precision.predict("gpt2-small-cpu-bf16.json", 32, "fp32", H200)
    bf16 = precision.predict("gpt2-small-cpu-bf16.json", 32, "bf16", H200)
    fp16 = precision.predict("gpt2-small-cpu-bf16.json", 32, "fp16", H200)
    assert fp32["predicted_s"] > bf16["predicted_s"] > 0  # the fp32 ceiling is lower
    assert "H200" in bf16["prediction_note"]
    fp16_requestable = "fp16" in typing.get_args(Precision)
    assert ("not a request precision" in fp16["prediction_note"]) != fp16_requestable
    assert precision.predict("gpt2-small-cpu-bf16.json", 32, "bf16", None)["predicted_s"] is None


@pytest.mark.parametrize(
    ("boundary", "predicted", "last_ok", "first_oom"),
    [(20, 20, 20, 21), (20, 24, 20, 21), (20, 17, 20, None), (1, 1, 1, 2), (0, 3, None, 1)],
    ids=["exact", "over", "under-out-of-tries", "one", "nothing-fits"],
)
def test_boundary_search_brackets_the_real_boundary(boundary, predicted, last_ok, first_oom):
    tried = []

    def runs(batch: int) -> bool:
        tried.append(batch)
        return batch <= boundary

    result = traced_vs_real.boundary_search(runs, predicted, tries=4)
    assert (result["last_ok"], result["first_oom"]) == (last_ok, first_oom)
    assert len(tried) <= 4 and [t["batch"] for t in result["tried"]] == tried


def _traced_report(static: float, none_act: float, full_act: float, transient: dict[str, float]):
    modes = {
        "none": SimpleNamespace(activation_bytes_per_sample=none_act, transient_bytes=transient["none"],
                                flops_per_sample=6e9),
        "full": SimpleNamespace(activation_bytes_per_sample=full_act, transient_bytes=transient["full"],
                                flops_per_sample=8e9),
    }
    return SimpleNamespace(trace=SimpleNamespace(mode=modes.get), memory_fit=SimpleNamespace(static_bytes=static),
                           model=SimpleNamespace(flops_per_sample=6e9))


def test_predicted_peak_and_largest_batch_follow_the_traced_line():
    report = _traced_report(10e9, 2e9, 0.5e9, {"none": 1e9, "full": 0.25e9})
    assert traced_vs_real.predicted_peak_bytes(report, "none", 4) == 10e9 + 4 * 2e9
    assert traced_vs_real.predicted_peak_bytes(report, "full", 4) == 10e9 - 1e9 + 0.25e9 + 4 * 0.5e9
    assert traced_vs_real.predicted_largest(report, "none", 30e9) == 10  # (30 − 10) / 2
    assert traced_vs_real.predicted_largest(report, "none", 5e9) == 0


def test_traced_stage_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(traced_vs_real, "CONFIG", tmp_path / "absent.json")
    gaps = traced_vs_real.missing(tmp_path / "absent.json")
    assert any("absent.json" in gap for gap in gaps)
    code = traced_vs_real.main(["--out", str(tmp_path)])
    written = json.loads((tmp_path / "traced-vs-real.json").read_text())
    assert code == 2 and written["status"] == "missing" and written["missing"] == gaps


def test_real_llama_step_measures_time_and_counts_no_cpu_memory(tmp_path):
    pytest.importorskip("transformers")
    config = tmp_path / "tiny-llama.json"
    config.write_text(json.dumps(traced_vs_real.TINY_CONFIG))
    real = traced_vs_real.RealModel(config, CPU)
    for mode in ("none", "full"):
        real.checkpointing(mode)
        row = real.measure(16, 2, timed=1)
        assert row["status"] == "ok" and row["step_s"] > 0 and row["peak_bytes"] is None


@pytest.mark.slow  # four fake-tensor traces and four real steps: ~60 s on a shared 2-core CPU
def test_traced_stage_runs_end_to_end_on_a_tiny_config(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("planner.probe.trace")
    assert traced_vs_real.main(["--out", str(tmp_path), "--tiny", "--device", "cpu"]) == 0
    written = json.loads((tmp_path / "traced-vs-real.json").read_text())
    assert written["status"] == "ok" and len(written["rows"]) == 4
    assert all(row["predicted_peak_bytes"] > 0 for row in written["rows"])


def _with_step_times(report: ProbeReport, factor: float) -> ProbeReport:
    """The same report with every timed step `factor` times longer (a second 'run')."""
    data = report.model_dump(mode="json")
    for point in data["points"]:
        for key in ("step_time_s", "step_time_min_s", "step_time_max_s"):
            if point.get(key) is not None:
                point[key] *= factor
    return ProbeReport.model_validate(data)


def test_sweep_summary_reports_stops_dispersion_and_spread_across_runs():
    report = load_probe_report(REPO / "bench" / "results" / "h200-2026-11-26" / "probe-gpt2-small-torch.json")
    summary = sweep_stability.summarize([report, report, _with_step_times(report, 1.1)])
    assert summary["same_stop_reason"] and summary["same_largest_batch"]
    assert summary["runs"][0]["largest_batch_ran"] == max(p.batch_size for p in report.ok_points())
    across = summary["across_runs"]
    assert across and all(row["relative_range"] == pytest.approx(0.1 / (3.1 / 3)) for row in across)
    point = report.ok_points()[0]
    expected = (point.step_time_max_s - point.step_time_min_s) / point.step_time_s
    assert summary["runs"][0]["points"][0]["range"] == pytest.approx(expected)
    assert summary["runs"][0]["points"][0]["dispersion"] == point.step_time_spread
    assert summary["worst_point_range"] >= expected


def test_compile_stage_times_eager_and_compiled_apart(tmp_path):
    row = compile_speed.measure("mlp", 4, CPU, "aot_eager")
    assert row["eager_step_s"] > 0 and row["compiled_step_s"] > 0 and row["compile_s"] >= 0
    assert row["speedup"] == pytest.approx(row["eager_step_s"] / row["compiled_step_s"])


def test_summary_tables_put_predictions_beside_measurements(tmp_path):
    import summarize

    head = {"card": "NVIDIA H200", "date": "2026-12-02T10:00:00+00:00", "commit": "abc1234",
            "tf32": {"cuda.matmul.allow_tf32": False, "cudnn.allow_tf32": True}}
    traced = {"header": head, "status": "ok", "config": "llama-1b.json", "rows": [
        {"seq_len": 2048, "checkpointing": "none", "batch": 2, "predicted_peak_bytes": 33 * 2**30,
         "peak_bytes": 30 * 2**30, "peak_error": 0.1, "predicted_step_s": 0.5, "step_s": 0.4, "step_time_error": 0.25}],
        "oom_boundary": {"seq_len": 2048, "checkpointing": "none", "predicted_largest": 24, "capacity_bytes": 140 * 2**30,
                         "last_ok": 22, "first_oom": 23}}
    precision_rows = {"header": head, "rows": [{"model": "resnet50", "batch": 256, "precision": "fp32",
                                                "samples_per_s": 1200.0, "predicted_samples_per_s": 430.0,
                                                "step_time_error": 1.79, "peak_bytes": 40 * 2**30}]}
    (tmp_path / "traced-vs-real.json").write_text(json.dumps(traced))
    (tmp_path / "precision.json").write_text(json.dumps(precision_rows))
    text = summarize.summarize(tmp_path)
    assert "| 2048 | none | 2 | 33.0 | 30.0 | +10.0% | 0.500 | 0.400 | +25.0% |" in text
    assert "predicted largest 24" in text and "ran 22, out of memory at 23" in text
    assert "| resnet50 | 256 | fp32 | 1,200.0 | 430.0 | +179.0% | 40.0 |" in text
    assert "commit abc1234" in text and "cuDNN True" in text
    (tmp_path / "traced-vs-real.json").write_text(json.dumps({"status": "missing", "missing": ["planner/probe/trace.py"]}))
    assert "traced-vs-real: not run (planner/probe/trace.py)" in summarize.summarize(tmp_path)

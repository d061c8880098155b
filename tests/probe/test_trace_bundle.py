"""A preset traced instead of run: `--trace-only`, and the fallback when the model cannot fit the cap."""

from __future__ import annotations

import pytest

from planner.cli.main import main
from planner.probe import ProbeConfig, run_probe
from planner.probe.trace_bundle import state_bytes
from planner.models.registry import load_model
from planner.report_file import load_probe_report

FAST = dict(device="cpu", warmup_steps=1, timed_steps=1, min_timed_s=0.0, memory_cap_bytes=2**30)


@pytest.fixture(scope="module")
def traced():
    return run_probe(ProbeConfig(model="gpt-tiny", trace_only=True, **FAST))


def test_trace_only_takes_no_step_and_is_marked_traced(traced):
    assert traced.points == [] and traced.trace is not None
    assert traced.model.flops_provenance == "traced" and traced.memory_fit is not None
    assert traced.memory_fit.provenance == "traced" and traced.memory_fit.points_used == 0
    assert traced.memory_fit.per_sample_bytes > 0
    # the floor of the memory line is the fp32 weights, gradients and AdamW state: 16 B per parameter
    assert traced.memory_fit.static_bytes >= 16 * traced.model.params
    assert any("--trace-only" in w for w in traced.warnings)
    # gpt-tiny's linears (width 128, vocab 256, 2 layers): the head, tied to the embedding, is marked as the head
    linears = {(g.leaf, g.in_features, g.out_features): g for g in traced.trace.linears}
    assert linears[("lm_head", 128, 256)].head and linears[("lm_head", 128, 256)].count == 1
    assert sum(g.count for g in traced.trace.linears if not g.head) >= 2 * 2  # two or more per layer


def test_traced_flops_are_the_measured_reports(traced):
    measured = run_probe(ProbeConfig(model="gpt-tiny", max_batch=1, **FAST))
    assert measured.ok_points() and measured.trace is None
    assert traced.model.flops_per_sample == measured.model.flops_per_sample
    assert traced.trace.modes[0].flops_per_sample == measured.model.flops_per_sample
    assert traced.model.attention_flops_per_sample == measured.model.attention_flops_per_sample
    assert traced.model.params == measured.model.params


def test_traced_activation_bytes_follow_the_measured_step(traced):
    """The traced peak grows per sample as the sweep's prediction of a real step does."""
    measured = run_probe(ProbeConfig(model="gpt-tiny", max_batch=4, **FAST))
    peaks = {p.batch_size: p.predicted_memory_bytes for p in measured.ok_points()}
    assert peaks[2] - peaks[1] == pytest.approx(traced.memory_fit.per_sample_bytes, rel=0.05)


def test_a_model_over_the_cap_is_traced_not_failed():
    bundle = load_model("mlp")
    cap = state_bytes(bundle) // 2
    report = run_probe(ProbeConfig(model="mlp", **{**FAST, "memory_cap_bytes": cap}))
    assert report.points == [] and report.trace is not None
    assert any("optimizer state alone" in w for w in report.warnings)


def test_cli_trace_only_then_plan_from_probe(tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert main(["probe", "--model", "mlp", "--device", "cpu", "--trace-only", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "tracing mlp on fake tensors" in err
    report = load_probe_report(out)
    assert report.trace is not None and report.points == []
    code = main(["plan", "--from-probe", str(out), "--samples", "1e7", "--ref-batch", "16", "--ref-lr", "3e-4",
                 "--budget", "1000", "--deadline", "100000", "--json"])
    assert code == 0
    assert '"candidates"' in capsys.readouterr().out


def test_cli_memory_cap_fallback_says_so_on_stderr(capsys):
    assert main(["probe", "--model", "gpt-tiny", "--device", "cpu", "--memory-cap", "0.004", "--json"]) == 0
    captured = capsys.readouterr()
    assert "weights, gradients and optimizer state alone" in captured.err
    assert '"points": []' in captured.out


def test_a_first_point_over_the_cap_is_traced():
    bundle = load_model("mlp")
    report = run_probe(ProbeConfig(model="mlp", **{**FAST, "memory_cap_bytes": state_bytes(bundle) + 1}))
    assert report.points == [] and report.trace is not None
    assert any("the first point (batch 1) peaks at" in w for w in report.warnings)


def test_plan_model_trace_only_plans_without_a_sweep(capsys):
    code = main(["plan", "--model", "mlp", "--device", "cpu", "--trace-only", "--samples", "1e7", "--ref-batch", "16",
                 "--ref-lr", "3e-4", "--budget", "1000", "--deadline", "100000", "--json"])
    assert code == 0
    captured = capsys.readouterr()
    assert "tracing mlp on fake tensors" in captured.err and '"best_batch": null' in captured.out

"""Probe screen: the sweep runs in a worker with live progress; cancel keeps the points; reports load and save."""

from __future__ import annotations

from dataclasses import asdict
from itertools import product
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Log, ProgressBar, Select, Static
from tui_fixtures import AppFactory, Recorder, ScriptedProbe, make_report, make_request

from planner.contracts import ProbeReport, ReferenceRun
from planner.contracts.probe_config import ProbeConfig
from planner.errors import BadInput
from planner.report_file import load_probe_report, save_probe_report
from tui.messages import ReportReady
from tui.probe_job import ProbeJob, memory_cap_bytes, probe_settings, run_real_probe
from tui.request_form import FieldError
from tui.screens.probe import ProbeScreen
from tui.widgets.xy_plot import XYPlot


async def wait_for_probe(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def log_lines(pilot: Pilot) -> list[str]:
    return list(pilot.app.screen.query_one(Log).lines)


async def type_into(pilot: Pilot, field_id: str, text: str) -> None:
    """Clear a settings field and type into it key by key, as a user would."""
    field = pilot.app.screen.query_one(f"#{field_id}", Input)
    field.value = ""
    field.focus()
    await pilot.press(*text)
    await pilot.pause()  # the last Input.Changed (the only one, for empty text) reaches the screen


def error_line(pilot: Pilot) -> str | None:
    """The line under the settings that says what is wrong; None while it is hidden."""
    line = pilot.app.screen.query_one("#probe-errors", Static)
    return str(line.content) if line.display else None


async def test_a_probe_runs_in_a_worker_and_its_report_is_planned(make_app: AppFactory, recorder: Recorder) -> None:
    runner = ScriptedProbe()
    app = make_app(request=make_request(precision="fp32"), probe_runner=runner)
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        assert isinstance(app.screen, ProbeScreen)
        app.screen.query_one("#max_batch", Input).value = "16"
        app.screen.query_one("#time_limit", Input).value = "30"
        await pilot.press("ctrl+r")
        await wait_for_probe(pilot)
        assert runner.jobs == [ProbeJob(model="mlp", device="auto", precision="fp32", kernels="torch", max_batch=16,
                                        time_limit_s=30.0, seq_len=None, memory_cap_bytes=None, nproc=1,
                                        noise_steps=0, noise_train_steps=0, noise_target_loss=None, noise_lr=1e-3)]
        progress = [m for m in recorder.of(ProbeScreen.Progress)]
        assert [m.event.kind for m in progress][:3] == ["started", "point-started", "point-done"]
        ready = recorder.of(ReportReady)
        assert len(ready) == 1 and ready[0].source == "probe"
        assert app.report is runner.report and app.plan is not None
        lines = log_lines(pilot)
        assert "batch 2: 4.0 samples/s, peak 3.00 GB" in lines
        assert "OOM at batch 8: memory cap" in lines
        assert "gain below 5%" in lines and lines[-1] == "done: out of memory from B=8"
        assert app.screen.query_one(ProgressBar).progress == 1.0
        plot = app.screen.query_one(XYPlot)
        assert [len(s.points) for s in plot.series] == [3, 3]


async def test_cancel_keeps_what_was_measured(make_app: AppFactory, recorder: Recorder) -> None:
    runner = ScriptedProbe(hold_after_first_point=True)
    app = make_app(request=make_request(), probe_runner=runner)
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        await pilot.press("ctrl+r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProbeScreen) and screen.running
        await pilot.press("ctrl+r")  # a second run while one is going is refused, not queued
        await pilot.press("escape")
        assert "cancelling" in str(screen.query_one("#probe-status", Static).content)
        runner.gate.set()
        await wait_for_probe(pilot)
        assert len(runner.jobs) == 1
        ready = recorder.of(ReportReady)
        assert [m.source for m in ready] == ["cancelled"]
        assert app.report is not None and [p.batch_size for p in app.report.points] == [1]
        assert app.report.stop_reason == "cancelled"
        assert "cancelled: kept 1 measured points" in log_lines(pilot)
        assert not screen.running


async def test_a_failing_probe_is_one_line_and_the_app_lives_on(make_app: AppFactory) -> None:
    runner = ScriptedProbe(failure=BadInput("unknown model 'nope': use one of mlp, gpt-tiny"))
    app = make_app(request=make_request(), probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+r")
        await wait_for_probe(pilot)
        assert log_lines(pilot)[-1] == "unknown model 'nope': use one of mlp, gpt-tiny"
        assert app.report is None and not app.screen.running
        runner.failure = RuntimeError("CUDA error: device-side assert\nsecond line")
        await pilot.press("ctrl+r")
        await wait_for_probe(pilot)
        assert log_lines(pilot)[-1] == "probe failed: RuntimeError: CUDA error: device-side assert"


async def test_bad_settings_are_refused_before_running(make_app: AppFactory) -> None:
    runner = ScriptedProbe()
    app = make_app(request=make_request(), probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#max_batch", Input).value = "lots"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert runner.jobs == []
        assert app.screen.query_one("#max_batch", Input).has_class("-invalid")
        assert any(n.message == "Max batch: not a number" for n in app._notifications)


async def test_the_extra_settings_reach_the_job(make_app: AppFactory) -> None:
    runner = ScriptedProbe()
    app = make_app(request=make_request(precision="fp32"), probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.screen.query_one("#noise_lr", Input).value == "0.001"  # the request's reference lr
        typed = {"seq_len": "256", "memory_cap": "2.5", "nproc": "2", "noise_steps": "20",
                 "noise_train_steps": "100", "noise_target_loss": "3.5", "noise_lr": "3e-4"}
        for field_id, text in typed.items():
            await type_into(pilot, field_id, text)
        assert error_line(pilot) is None
        await pilot.press("ctrl+r")
        await wait_for_probe(pilot)
        assert runner.jobs == [ProbeJob(model="mlp", device="auto", precision="fp32", kernels="torch", max_batch=None,
                                        time_limit_s=120.0, seq_len=256, memory_cap_bytes=2_500_000_000, nproc=2,
                                        noise_steps=20, noise_train_steps=100, noise_target_loss=3.5, noise_lr=3e-4)]
        config = ProbeConfig(**asdict(runner.jobs[0]))  # what run_real_probe makes of it: every name is ProbeConfig's
        assert (config.nproc, config.noise_train_steps, config.noise_lr) == (2, 100, 3e-4)


async def test_noise_training_without_noise_steps_is_an_error_beside_the_field(make_app: AppFactory) -> None:
    runner = ScriptedProbe()
    app = make_app(request=make_request(), probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "noise_train_steps", "5")
        assert error_line(pilot) == "Train steps: trains before the noise steps, so it needs Noise steps > 0"
        assert app.screen.query_one("#noise_train_steps", Input).has_class("-invalid")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert runner.jobs == [] and not app.screen.running
        assert any(n.message.startswith("Train steps: trains before the noise steps") for n in app._notifications)

        await type_into(pilot, "noise_steps", "10")
        await type_into(pilot, "noise_target_loss", "2")
        assert error_line(pilot) is None  # 5 training steps at most, towards a loss of 2
        await type_into(pilot, "noise_train_steps", "0")
        assert error_line(pilot) == "Target loss: needs Train steps > 0, the most steps to train towards it"
        assert not app.screen.query_one("#noise_train_steps", Input).has_class("-invalid")
        assert app.screen.query_one("#noise_target_loss", Input).has_class("-invalid")


async def test_a_negative_rank_count_is_refused_then_fixed(make_app: AppFactory) -> None:
    runner = ScriptedProbe()
    app = make_app(request=make_request(), probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "nproc", "-2")
        assert error_line(pilot) == "DDP ranks: must be a whole number above 0"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert runner.jobs == []
        await type_into(pilot, "nproc", "")
        assert error_line(pilot) is None and not app.screen.query_one("#nproc", Input).has_class("-invalid")
        await pilot.press("ctrl+r")
        await wait_for_probe(pilot)
        assert [job.nproc for job in runner.jobs] == [1]


async def test_the_noise_lr_follows_the_reference_lr_not_other_edits(make_app: AppFactory) -> None:
    app = make_app(request=make_request())
    async with app.run_test(size=(100, 30)) as pilot:
        field = app.screen.query_one("#noise_lr", Input)
        await type_into(pilot, "noise_lr", "5e-4")
        app.request = make_request(budget_usd=10.0)  # a new limit: the typed lr stays
        await pilot.pause()
        assert field.value == "5e-4"
        app.request = make_request(reference=ReferenceRun(batch_size=64, lr=3e-4, optimizer="adamw"))
        await pilot.pause()
        assert field.value == "0.0003"


def test_the_screen_applies_probe_configs_noise_rules() -> None:
    """The screen's verdict is ProbeConfig's, for every mix of the noise settings (the rules live there only)."""
    from pydantic import ValidationError

    from planner.contracts.probe_config import ProbeConfig

    for steps, train_steps, target in product(("", "0", "3"), ("", "0", "5"), ("", "2.5")):
        settings = probe_settings(make_request(), {"noise_steps": steps, "noise_train_steps": train_steps,
                                                   "noise_target_loss": target})
        try:
            ProbeConfig(model="mlp", noise_steps=int(steps or 0), noise_train_steps=int(train_steps or 0),
                        noise_target_loss=float(target) if target else None)
            accepted = True
        except ValidationError:
            accepted = False
        assert (settings.job is not None) == accepted, (steps, train_steps, target, settings.errors)


def test_the_memory_cap_is_in_gb_like_the_clis() -> None:
    assert memory_cap_bytes("2.5") == 2_500_000_000
    for text in ("0", "-1", "1e-12", "1e300"):  # none would make a ProbeConfig, and 1e300 GB would overflow int()
        with pytest.raises(FieldError):
            memory_cap_bytes(text)


async def test_no_request_no_probe(make_app: AppFactory) -> None:
    runner = ScriptedProbe()
    app = make_app(probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2", "ctrl+r")
        await pilot.pause()
        assert runner.jobs == []
        assert any("fill in the setup first" in n.message for n in app._notifications)


async def test_load_and_save_a_report(make_app: AppFactory, recorder: Recorder, tmp_path: Path) -> None:
    saved = tmp_path / "probe.json"
    save_probe_report(make_report(), saved)
    app = make_app(request=make_request())
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        await pilot.press("ctrl+l")
        await pilot.pause()
        app.screen.query_one("#path-input", Input).value = str(saved)
        await pilot.press("enter")
        await pilot.pause()
        assert [m.source for m in recorder.of(ReportReady)] == ["file"]
        assert app.report == make_report() and app.plan is not None
        assert "mlp on test cpu: 3 points, oom" in str(app.screen.query_one("#probe-status", Static).content)

        copy = tmp_path / "copy.json"
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#path-input", Input).value = str(copy)
        await pilot.press("enter")
        await pilot.pause()
        assert load_probe_report(copy) == app.report


@pytest.mark.slow
async def test_the_real_probe_of_a_tiny_model(make_app: AppFactory, recorder: Recorder) -> None:
    """The real planner.probe.run_probe on the mlp preset, on this machine's CPU, to completion."""
    app = make_app(request=make_request(precision="fp32"), probe_runner=run_real_probe)
    async with app.run_test(size=(100, 30), message_hook=recorder) as pilot:
        app.screen.query_one("#device", Select).value = "cpu"
        app.screen.query_one("#max_batch", Input).value = "4"
        app.screen.query_one("#time_limit", Input).value = "60"
        await pilot.press("ctrl+r")
        await wait_for_probe(pilot)
        ready = recorder.of(ReportReady)
        assert [m.source for m in ready] == ["probe"]
        report = ready[0].report
        # a busy CPU can make the doubling gain too little: a plateau before max_batch is a correct outcome
        assert report.model.id == "mlp" and report.stop_reason in ("max-batch", "plateau")
        ok = [p.batch_size for p in report.ok_points()]
        assert len(ok) >= 2 and ok == [1, 2, 4][:len(ok)]
        kinds = [m.event.kind for m in recorder.of(ProbeScreen.Progress)]
        assert kinds[0] == "started" and kinds[-1] == "done" and kinds.count("point-done") == len(ok)
        assert app.plan is not None and app.plan.probe.model_id == "mlp"


def noisy_report() -> ProbeReport:
    from planner.contracts.probe import MemoryFit, NoiseScale

    report = make_report()
    return report.model_copy(update={
        "memory_fit": MemoryFit(static_bytes=2e9, per_sample_bytes=5e8, points_used=3, max_relative_residual=0.01),
        "noise_scale": NoiseScale(b_simple=8.3, low=7.1, high=9.9, b_small=2, b_big=8, steps=200, train_loss=3.21,
                                  trained_steps=150),
    })


async def test_the_result_panel_says_what_the_plan_takes_from_the_probe(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=noisy_report())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        text = str(app.screen.query_one("#probe-result", Static).content)
        assert "best throughput: 4.4 samples/s at batch 4" in text
        assert "largest batch: 4 measured" in text
        assert "memory fit: 2.00 GB + 500.0 MB × B (3 points, ±1%)" in text
        assert "noise scale: 8.3 (band 7.1–9.9), at loss 3.21, 150 steps trained first" in text
        assert "unstable" not in text


async def test_unstable_timings_are_warned_about(make_app: AppFactory) -> None:
    report = make_report()
    shaky = report.points[1].model_copy(update={"step_time_min_s": 0.3, "step_time_max_s": 0.8})
    report = report.model_copy(update={"points": [report.points[0], shaky, *report.points[2:]]})
    app = make_app(request=make_request(), report=report)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        text = str(app.screen.query_one("#probe-result", Static).content)
        assert "unstable timings at 1 batch size(s), spread up to 100% at batch 2" in text


async def test_a_cancel_that_changes_what_the_plan_rests_on_says_so(make_app: AppFactory) -> None:
    runner = ScriptedProbe(hold_after_first_point=True)
    app = make_app(request=make_request(), report=noisy_report(), probe_runner=runner)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        await pilot.press("ctrl+r")
        await pilot.pause()
        await pilot.press("escape")
        runner.gate.set()
        await wait_for_probe(pilot)
        assert app.report is not None and app.report.noise_scale is None
        assert "cancelled before the noise scale was read" in app.report_note
        assert "the last report's B_noise 8.3 is not used" in app.report_note
        assert "recommended " in app.report_note and "→" in app.report_note
        assert app.report_note in str(app.screen.query_one("#probe-result", Static).content)


def test_progress_and_eta_through_every_phase() -> None:
    from planner.contracts.probe_config import ProbeEvent
    from tui.probe_progress import Phase, next_phase

    def event(kind: str, at: float, fraction: float = 0.5, **kw: object) -> ProbeEvent:
        return ProbeEvent(kind=kind, elapsed_s=at, fraction_done=fraction, **kw)  # type: ignore[arg-type]

    phase = Phase("sweep", 0.0, 0.0)
    phase = next_phase(phase, event("point-done", 10, 0.8, batch_size=64, eta_s=2.5))
    assert phase.status() == "sweep, batch 64 · 80%, about 2 s left"
    phase = next_phase(phase, event("message", 12, 0.99, text="noise scale: training 100 steps first, B_big=8"))
    assert phase.name == "noise scale: training" and phase.fraction == 0
    phase = next_phase(phase, event("message", 22, 0.99, text="noise scale: trained 50/100 steps, loss 3.1"))
    assert phase.status() == "noise scale: training · 50%, about 10 s left"
    phase = next_phase(phase, event("message", 32, 0.99,
                                    text="noise scale: 200 training steps of B_big=8 as 4 micro-batches of B_small=2"))
    phase = next_phase(phase, event("message", 42, 0.99, text="noise scale: step 40/200, loss 3, B_simple ≈ 8"))
    assert phase.status() == "noise scale: measuring · 20%, about 40 s left"
    assert next_phase(phase, event("done", 80, 1.0, text="oom")).fraction == 1.0


def test_the_probes_messages_name_the_screens_fields_not_cli_flags() -> None:
    from tui.probe_job import screen_words

    assert screen_words("--device cuda but torch sees no CUDA device; use --device cpu or auto") == \
        "Device cuda but torch sees no CUDA device; use Device cpu or auto"
    assert screen_words("more --noise-steps, or a longer --time-limit") == "more Noise steps, or a longer Limit s"
    assert screen_words("--unknown-flag stays") == "--unknown-flag stays"

"""Setup screen: the form checks as you type, shows reasons beside fields, and saves/loads request files."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from tui_fixtures import AppFactory, Recorder, make_request

from planner.contracts.request import PlanRequest
from planner.request_file import load_request, save_request
from tui.messages import RequestEdited
from tui.screens.setup import SetupScreen
from tui.widgets.form_row import FormRow


def error_beside(pilot: Pilot, field_id: str) -> str:
    row = pilot.app.screen.query_one(f"#row-{field_id}", FormRow)
    return str(row.query_one(".form-row--error", Static).content)


async def type_into(pilot: Pilot, field_id: str, text: str) -> None:
    """Set a field's text as a paste would (key-by-key typing is tested once: it is slow under Pilot)."""
    pilot.app.screen.query_one(f"#{field_id}", Input).value = text
    await pilot.pause()


async def test_empty_app_opens_on_setup_and_typing_a_valid_form_sets_the_request(make_app: AppFactory,
                                                                                    recorder: Recorder) -> None:
    app = make_app()
    async with app.run_test(size=(100, 40), message_hook=recorder) as pilot:
        assert isinstance(app.screen, SetupScreen)
        assert app.request is None
        await pilot.click("#model")
        await pilot.press(*"gpt-tiny")
        for field_id, text in (("amount", "500000"), ("ref_batch", "32"), ("ref_lr", "3e-4"), ("budget", "250"),
                               ("deadline", "12"), ("max_gpus", "8")):
            await type_into(pilot, field_id, text)
        assert app.request is not None
        assert app.request.model == "gpt-tiny"
        assert app.request.workload.samples == 500_000
        assert app.request.reference.batch_size == 32 and app.request.reference.lr == 3e-4
        assert app.request.budget_usd == 250 and app.request.deadline_hours == 12
        assert recorder.of(RequestEdited)[-1].request == app.request
        assert "valid" in str(app.screen.query_one("#setup-status", Static).content)


async def test_invalid_values_show_the_reason_beside_the_field_and_keep_the_last_valid_request(
        make_app: AppFactory, recorder: Recorder) -> None:
    request = make_request()
    app = make_app(request=request)
    async with app.run_test(size=(100, 40), message_hook=recorder) as pilot:
        await app.switch_mode("setup")
        await pilot.pause()
        await type_into(pilot, "ref_lr", "fast")
        assert error_beside(pilot, "ref_lr") == "not a number"
        await type_into(pilot, "ref_batch", "0")
        assert error_beside(pilot, "ref_batch") == "must be a whole number above 0"
        await type_into(pilot, "providers", "aws, ibm")
        assert error_beside(pilot, "providers").startswith("unknown provider ibm; choose from aws, gcp, lambda")
        await type_into(pilot, "model", "not a model")
        assert "unknown preset" in error_beside(pilot, "model")
        assert app.screen.query_one("#row-ref_lr", FormRow).has_class("-invalid")
        assert app.request == request
        assert recorder.of(RequestEdited) == []
        assert "4 fields to fix" in str(app.screen.query_one("#setup-status", Static).content)

        await type_into(pilot, "ref_lr", "0.002")
        assert error_beside(pilot, "ref_lr") == ""
        assert not app.screen.query_one("#row-ref_lr", FormRow).has_class("-invalid")


async def test_epochs_need_a_dataset_size(make_app: AppFactory) -> None:
    app = make_app(request=make_request())
    async with app.run_test(size=(100, 40)) as pilot:
        await app.switch_mode("setup")
        await pilot.pause()
        app.screen.query_one("#workload_kind", Select).value = "epochs"
        await pilot.pause()
        await type_into(pilot, "amount", "3")
        assert error_beside(pilot, "dataset_size") == "required for epochs"
        assert app.request is not None and app.request.workload.samples == 2_000_000
        await type_into(pilot, "dataset_size", "50000")
        assert app.request.workload.epochs == 3 and app.request.workload.dataset_size == 50_000


async def test_save_writes_a_file_the_cli_reads_and_load_fills_the_form(make_app: AppFactory,
                                                                         tmp_path: Path) -> None:
    request = make_request(budget_usd=99.5, providers=["aws"])
    app = make_app(request=request)
    saved = tmp_path / "plan.toml"
    async with app.run_test(size=(100, 40)) as pilot:
        await app.switch_mode("setup")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        prompt = app.screen.query_one("#path-input", Input)
        prompt.value = str(saved)
        await pilot.press("enter")
        await pilot.pause()
        assert load_request(saved) == request

        other = tmp_path / "other.json"
        save_request(make_request(model="gpt-tiny", deadline_hours=3.0), other)
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#path-input", Input).value = str(other)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.request, PlanRequest) and app.request.model == "gpt-tiny"
        assert app.screen.query_one("#model", Input).value == "gpt-tiny"
        assert app.screen.query_one("#deadline", Input).value == "3"


async def test_loading_a_broken_file_is_one_line_in_a_notification(make_app: AppFactory, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("model = [\n")
    app = make_app(request=make_request())
    async with app.run_test(size=(100, 40)) as pilot:
        await app.switch_mode("setup")
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#path-input", Input).value = str(broken)
        await pilot.press("enter")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("is not valid TOML" in m and "\n" not in m for m in messages)
        assert app.request == make_request()

"""The app as a whole: entry point, screen keys, command palette, themes, and what imports what."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tui_fixtures import AppFactory, make_report, make_request

from planner.report_file import save_probe_report
from planner.request_file import save_request
from tui.app import BatchfitApp, run_app
from tui.commands import COMMANDS
from tui.screens.plan import PlanScreen
from tui.screens.probe import ProbeScreen
from tui.screens.quotes import QuotesScreen
from tui.screens.setup import SetupScreen


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_headless_packages_never_import_textual() -> None:
    result = run_python("import planner.cli.main, planner.plan.build, planner.view, planner.request_file, "
                        "planner.report_file, providers.catalog, providers.quotes, kernels; import sys; "
                        "assert 'textual' not in sys.modules, 'textual was imported'; "
                        "assert not any(m == 'tui' or m.startswith('tui.') for m in sys.modules), 'tui was imported'")
    assert result.returncode == 0, result.stderr


def test_the_app_starts_without_torch() -> None:
    result = run_python("import tui.app, sys; assert 'torch' not in sys.modules, 'torch was imported'")
    assert result.returncode == 0, result.stderr


def test_run_app_reports_a_bad_file_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(request_path=str(tmp_path / "missing.toml")) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchfit: error: request file") and err.count("\n") == 1


def test_run_app_preloads_the_files_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_request(make_request(), tmp_path / "plan.toml")
    save_probe_report(make_report(), tmp_path / "report.json")
    started: list[BatchfitApp] = []

    def fake_run(app: BatchfitApp) -> None:
        started.append(app)

    monkeypatch.setattr(BatchfitApp, "run", fake_run)
    assert run_app(request_path=str(tmp_path / "plan.toml"), probe_path=str(tmp_path / "report.json")) == 0
    assert started[0].preload[:2] == (make_request(), make_report())


async def test_function_keys_switch_screens_and_f5_the_theme(make_app: AppFactory) -> None:
    app = make_app(request=make_request(), report=make_report())
    async with app.run_test(size=(80, 24)) as pilot:
        expected = {"f1": SetupScreen, "f2": ProbeScreen, "f3": PlanScreen, "f4": QuotesScreen}
        for key, screen in expected.items():
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen)
        assert app.theme == "textual-dark"
        await pilot.press("f5")
        assert app.theme == "textual-light"
        await pilot.press("f5")
        assert app.theme == "textual-dark"


async def test_command_palette_offers_the_main_actions(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app(request=make_request(), report=make_report(), export_folder=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"prices")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, QuotesScreen)

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"export")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        name = app.screen.query_one("#export-name")
        assert name.value == "batchfit-plan.json"
        name.value = "plan.md"
        await pilot.press("enter")
        await pilot.pause()
        assert (tmp_path / "plan.md").read_text().startswith("# batchfit plan: mlp")


def test_every_palette_command_names_an_app_action() -> None:
    for _title, _help, action in COMMANDS:
        name = action.split("(")[0]
        assert callable(getattr(BatchfitApp, f"action_{name}", None)), action


def test_screens_read_the_app_through_its_state_protocol() -> None:
    import ast

    from tui.app_state import AppState

    assert isinstance(BatchfitApp(), AppState)
    for path in sorted((Path(__file__).resolve().parents[2] / "tui").rglob("*.py")):
        if path.name == "app.py":
            continue
        imported = {node.module for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.module}
        assert "tui.app" not in imported, f"{path} imports the app class: depend on tui.app_state.AppState"

"""BatchfitApp: owns the request, the probe report, the catalog and the plan; the screens show them.

State flows one way. Screens post RequestEdited / ReportReady; the app stores the new value,
re-plans with `planner.plan.build.build_plan` (pure and fast, so on every change), and screens watch
the app's reactive attributes to redraw. Slow work (loading presets imports torch; probing)
runs in thread workers.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen

from planner.contracts.plan import Plan
from planner.contracts.probe import ProbeReport
from planner.contracts.request import PlanRequest
from planner.errors import EXIT_BAD_INPUT, BatchfitError
from planner.plan.build import build_plan
from planner.report_file import load_probe_report
from planner.request_file import load_request
from providers.catalog import load_catalog
from providers.errors import CatalogError
from providers.schema import Catalog
from tui.commands import BatchfitCommands
from tui.memory import Memory, default_state_dir
from tui.messages import PlanExported, ReportReady, RequestEdited
from tui.probe_job import ProbeRunner, run_real_probe
from tui.report_change import cancel_note, plan_shift
from tui.screens.export_dialog import ExportDialog
from tui.screens.help import HelpScreen
from tui.screens.plan import PlanScreen
from tui.screens.probe import ProbeScreen
from tui.screens.quotes import QuotesScreen
from tui.screens.setup import SetupScreen

CatalogLoader = Callable[[], Catalog]
PresetLoader = Callable[[], list[str]]
Clock = Callable[[], dt.datetime]

DARK_THEME, LIGHT_THEME = "textual-dark", "textual-light"


def load_presets() -> list[str]:
    from planner.models.registry import (
        list_presets,  # imports torch: called in a worker
    )

    return list_presets()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Preload(NamedTuple):
    """What the app starts with; a catalog or presets left None are loaded in workers after start."""

    request: PlanRequest | None
    report: ProbeReport | None
    catalog: Catalog | None
    presets: list[str] | None


class BatchfitApp(App[int]):
    CSS_PATH = "batchfit.tcss"
    TITLE = "batchfit"
    COMMANDS = App.COMMANDS | {BatchfitCommands}
    # Short names: at 80 columns the footer holds the four screens, help, quit and a screen's own keys.
    BINDINGS = [
        Binding("f1", "switch_mode('setup')", "Setup"),
        Binding("f2", "switch_mode('probe')", "Probe"),
        Binding("f3", "switch_mode('plan')", "Plan"),
        Binding("f4", "switch_mode('quotes')", "Quotes"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("f5", "toggle_theme", "Theme", show=False),
    ]

    request: var[PlanRequest | None] = var(None)
    report: var[ProbeReport | None] = var(None, always_update=True)
    catalog: var[Catalog | None] = var(None, always_update=True)
    presets: var[tuple[str, ...]] = var(())
    plan: var[Plan | None] = var(None, always_update=True)
    plan_problem: var[str] = var("")
    """Why there is no plan, in one line; empty when there is one."""
    report_note: var[str] = var("")
    """What a cancelled probe changed in what the plan rests on; empty when nothing did."""

    def __init__(
        self,
        *,
        request: PlanRequest | None = None,
        report: ProbeReport | None = None,
        catalog: Catalog | None = None,
        presets: list[str] | None = None,
        catalog_loader: CatalogLoader = load_catalog,
        preset_loader: PresetLoader = load_presets,
        probe_runner: ProbeRunner = run_real_probe,
        clock: Clock = utc_now,
        state_dir: Path | None = None,
        export_folder: Path | None = None,
    ) -> None:
        """state_dir: where the last request and report are kept between launches (None: not kept)."""
        super().__init__()
        self.catalog_loader = catalog_loader
        self.preset_loader = preset_loader
        self.probe_runner = probe_runner
        self.clock = clock
        self.memory = Memory(state_dir) if state_dir is not None else None
        self.export_folder = export_folder or Path.cwd()
        self.preload = Preload(request, report, catalog, presets)

    async def on_mount(self) -> None:
        self.add_mode("setup", SetupScreen)
        self.add_mode("probe", lambda: ProbeScreen(self.probe_runner))
        self.add_mode("plan", PlanScreen)
        self.add_mode("quotes", QuotesScreen)
        request, report, catalog, presets = self.preload
        if self.memory is not None and request is None and report is None:
            request, report, warnings = self.memory.recall()
            for warning in warnings:
                self.notify(warning, severity="warning")
        self.set_reactive(BatchfitApp.request, request)
        self.set_reactive(BatchfitApp.report, report)
        self.set_reactive(BatchfitApp.catalog, catalog)
        self.replan()
        if presets is None:
            self._load_presets()
        else:
            self.presets = tuple(presets)
        if catalog is None:
            self._load_catalog()
        await self.switch_mode("plan" if request and report else "probe" if request else "setup")

    def today(self) -> dt.date:
        return self.clock().date()

    @work(thread=True, group="startup")
    def _load_catalog(self) -> None:
        try:
            catalog = self.catalog_loader()
        except (CatalogError, OSError) as exc:
            self.call_from_thread(self._catalog_failed, str(exc))
            return
        self.call_from_thread(setattr, self, "catalog", catalog)

    def _catalog_failed(self, message: str) -> None:
        self.plan_problem = f"prices could not be loaded: {message}"
        self.notify(message, title="Price catalog", severity="error", timeout=10)

    @work(thread=True, group="startup")
    def _load_presets(self) -> None:
        try:
            presets = tuple(self.preset_loader())
        except ImportError as exc:  # no torch here: factories and saved reports still work
            self.call_from_thread(self.notify, f"model presets unavailable: {exc}", severity="warning")
            return
        self.call_from_thread(setattr, self, "presets", presets)

    def watch_request(self, request: PlanRequest | None) -> None:
        self.replan()
        if request is not None:
            self._remember(self.memory.keep_request(request) if self.memory else None)

    def watch_report(self, report: ProbeReport | None) -> None:
        self.replan()
        if report is not None:
            self._remember(self.memory.keep_report(report) if self.memory else None)

    def _remember(self, problem: str | None) -> None:
        if problem:
            self.notify(problem, severity="warning")

    def watch_catalog(self) -> None:
        self.replan()

    def replan(self) -> None:
        """Build the plan from what is known, or say in plan_problem what is missing."""
        missing = ("fill in the setup (F1)" if self.request is None
                   else "run a probe or load a report (F2)" if self.report is None
                   else "loading prices" if self.catalog is None else "")
        if missing:
            self.plan_problem = f"No plan yet: {missing}"
            self.plan = None
            return
        assert self.request is not None and self.report is not None and self.catalog is not None
        try:
            plan = build_plan(self.request, self.report, self.catalog, now=self.clock())
        except (BatchfitError, ValueError) as exc:
            self.plan_problem = f"Cannot plan: {exc}"
            self.plan = None
            return
        self.plan_problem = ""
        self.plan = plan

    def on_request_edited(self, message: RequestEdited) -> None:
        self.request = message.request

    def on_report_ready(self, message: ReportReady) -> None:
        if not message.report.ok_points():
            self.notify("the probe measured no point; nothing to plan with", severity="error")
            return
        previous, plan_before = self.report, self.plan
        note = cancel_note(previous, message.report) if message.source == "cancelled" else ""
        self.report = message.report
        shift = plan_shift(plan_before, self.plan) if note else ""
        self.report_note = note + (f"; {shift}" if shift else "")
        if self.report_note:
            self.notify(self.report_note, title="The plan changed", severity="warning", timeout=12)
        if self.request is not None and message.report.model.id != self.request.model:
            self.notify(f"the report is for {message.report.model.id}, the request names {self.request.model}",
                        severity="warning")
        if message.source != "file":
            self.notify(f"probe {'cancelled' if message.source == 'cancelled' else 'finished'}: "
                        f"{len(message.report.ok_points())} points measured; the plan is updated (F3)")

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.theme == DARK_THEME else DARK_THEME

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_export(self) -> None:
        plan = self.plan
        if plan is None:
            self.notify(self.plan_problem or "no plan to export", severity="error")
            return

        def written(path: Path | None) -> None:
            if path is not None:
                self.notify(f"plan written to {path}")
                self.post_message(PlanExported(path))

        self.push_screen(ExportDialog(plan, self.export_folder), written)

    async def _screen_for(self, mode: str) -> Screen:
        await self.switch_mode(mode)
        return self.screen

    async def action_run_probe(self) -> None:
        screen = await self._screen_for("probe")
        assert isinstance(screen, ProbeScreen)
        screen.action_run_probe()

    async def action_load_report(self) -> None:
        screen = await self._screen_for("probe")
        assert isinstance(screen, ProbeScreen)
        screen.action_load_report()

    async def action_save_request(self) -> None:
        screen = await self._screen_for("setup")
        assert isinstance(screen, SetupScreen)
        screen.action_save_request()

    async def action_load_request(self) -> None:
        screen = await self._screen_for("setup")
        assert isinstance(screen, SetupScreen)
        screen.action_load_request()


def run_app(request_path: str | None = None, probe_path: str | None = None) -> int:
    """Entry point for `batchfit` / `batchfit tui`: preload the files given, run the app, return the exit code."""
    try:
        request = load_request(Path(request_path)) if request_path else None
        report = load_probe_report(Path(probe_path)) if probe_path else None
    except BatchfitError as exc:
        sys.stderr.write(f"batchfit: error: {exc}\n")
        return EXIT_BAD_INPUT
    app = BatchfitApp(request=request, report=report, state_dir=default_state_dir())
    return app.run() or 0

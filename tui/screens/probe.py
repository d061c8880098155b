"""Probe: run the sweep in a thread worker with live progress, or load a saved report.

The worker never touches widgets: it posts ProbeScreen.Progress for every ProbeEvent and
returns the report; the screen updates itself from those messages on the UI thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import (
    Footer,
    Header,
    Input,
    Label,
    Log,
    ProgressBar,
    Select,
    Static,
)

from planner.contracts.probe import ProbePoint, ProbeReport
from planner.contracts.probe_config import ProbeEvent
from planner.errors import BatchfitError
from planner.report_file import load_probe_report, save_probe_report
from tui.messages import ReportReady
from tui.probe_job import (
    DEVICES,
    KERNELS,
    SETTINGS,
    ProbeJob,
    ProbeRunner,
    ProbeSettings,
    error_line,
    probe_settings,
    screen_words,
)
from tui.probe_progress import Phase, next_phase, result_lines, unstable_points
from tui.request_form import form_from_request
from tui.screens.base import BatchfitScreen
from tui.screens.path_prompt import PathPrompt
from tui.widgets.xy_plot import Series, XYPlot

DEFAULT_REPORT_FILE = "batchfit-probe.json"
SETTING_ROWS: tuple[tuple[str, ...], ...] = (
    ("max_batch", "time_limit"),
    ("seq_len", "memory_cap", "nproc"),
    ("noise_steps", "noise_train_steps", "noise_target_loss", "noise_lr"),
)
"""The text settings, three short rows (the first after the selects): side by side they do not fit 80 columns."""


def point_line(point: ProbePoint) -> str:
    if point.status == "ok" and point.samples_per_s is not None:
        memory = f", peak {point.peak_memory_bytes / 1e9:.2f} GB" if point.peak_memory_bytes else ""
        return f"batch {point.batch_size}: {point.samples_per_s:,.1f} samples/s{memory}"
    return f"batch {point.batch_size}: {point.status}" + (f" ({point.reason})" if point.reason else "")


def event_line(event: ProbeEvent) -> str | None:
    """The log's line for an event; point-started only moves the status line."""
    if event.kind == "point-started":
        return None
    if event.kind == "point-done" and event.point is not None:
        return point_line(event.point)
    if event.kind == "oom":
        why = event.text or (event.point.reason if event.point is not None else "") or ""
        return f"OOM at batch {event.batch_size}" + (f": {why}" if why else "")
    if event.kind == "plateau":
        return event.text or "plateau reached"
    if event.kind == "done":
        return f"done: {event.text}"
    return event.text


def plot_series(points: list[ProbePoint]) -> list[Series]:
    """Memory first, throughput second: where their markers meet, the throughput (the measurement) shows."""
    ok = sorted((p for p in points if p.status == "ok"), key=lambda p: p.batch_size)
    return [
        Series("peak GB", [(p.batch_size, p.peak_memory_bytes / 1e9) for p in ok if p.peak_memory_bytes], "■",
               "secondary", axis="right", joined=True),
        Series("samples/s", [(p.batch_size, p.samples_per_s) for p in ok if p.samples_per_s], "●", "primary",
               joined=True),
    ]


def result_panel(report: ProbeReport | None, note: str) -> Content:
    """What the plan takes from the probe, a warning when its timings are unstable, and a cancel's note."""
    if report is None:
        return Content.assemble(("Result", "bold $text-accent"), "\nno report yet")
    lines = [Content.assemble(("Result", "bold $text-accent"))]
    lines += [Content.assemble((f"{label}: ", "$text-muted"), value) for label, value in result_lines(report)]
    unstable = unstable_points(report.points)
    if unstable:
        worst = max(unstable, key=lambda u: u[1])
        lines.append(Content.assemble(("! ", "$text-warning"), f"unstable timings at {len(unstable)} batch size(s), "
                                      f"spread up to {worst[1]:.0%} at batch {worst[0]}: other load on this machine? "
                                      "the throughput may be off"))
    if note:
        lines.append(Content.assemble(("! ", "$text-warning"), note))
    lines += [Content.assemble(("! ", "$text-warning"), screen_words(w)) for w in report.warnings]
    return Content("\n").join(lines)


class ProbeScreen(BatchfitScreen):
    BINDINGS = [
        Binding("ctrl+r", "run_probe", "Run"),
        Binding("escape", "cancel_probe", "Cancel"),
        Binding("ctrl+l", "load_report", "Load", show=False),
        Binding("ctrl+s", "save_report", "Save", show=False),
    ]

    class Progress(Message):
        """One ProbeEvent, carried from the worker thread to the screen."""

        def __init__(self, event: ProbeEvent) -> None:
            super().__init__()
            self.event = event

    class Failed(Message):
        """The probe stopped without a report; `text` is one line for the user."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, runner: ProbeRunner) -> None:
        super().__init__(id="probe")
        self.runner = runner
        self.cancel_event = threading.Event()
        self.live_points: list[ProbePoint] = []
        self.running = False
        self.run_report: ProbeReport | None = None
        self.noise_lr_from: float | None = None
        self.phase = Phase("sweep", 0.0, 0.0)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="probe-settings"):
            for index, row in enumerate(SETTING_ROWS):
                with Horizontal(classes="probe-row"):
                    if index == 0:
                        yield Label("Device", classes="probe-label")
                        yield Select([(d, d) for d in DEVICES], allow_blank=False, compact=True, id="device")
                        yield Label("Kernels", classes="probe-label")
                        yield Select([(k, k) for k in KERNELS], allow_blank=False, compact=True, id="kernels")
                    for field_id in row:
                        yield Label(SETTINGS[field_id].label, classes="probe-label")
                        yield Input(placeholder=SETTINGS[field_id].placeholder, compact=True, id=field_id)
            yield Static("", id="probe-errors", markup=False)
        yield Static("", id="probe-target")
        with Horizontal(id="probe-progress"):
            yield ProgressBar(total=1.0, show_eta=False, id="probe-bar")
            yield Static("idle", id="probe-status")
        with Horizontal(id="probe-middle"):
            yield XYPlot(x_title="batch size", y_title="samples/s", y_right_title="peak GB", x_log=True,
                         x_format=lambda v: f"{v:.0f}", id="probe-plot",
                         empty_text="no points yet: ctrl+r runs the probe, ctrl+l loads a saved report")
            yield Static(result_panel(None, ""), id="probe-result")
        yield Log(id="probe-log", max_lines=500)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Probe"
        self.query_one(ProgressBar).display = False  # shown from the first run on
        self.watch(self.app, "report", self._show_report)
        self.watch(self.app, "report_note", self._show_result)
        self.watch(self.app, "request", self._show_target)
        self.watch(self.app, "request", self._default_noise_lr)

    def on_unmount(self) -> None:
        self.cancel_event.set()  # the app is closing: let the sweep stop at its next step

    def _show_target(self, _request: object) -> None:
        request = self.state.request
        text = (f"model {request.model}, {request.precision}" if request is not None
                else "no model yet: fill in the setup (F1)")
        self.query_one("#probe-target", Static).update(text)

    def _default_noise_lr(self, _request: object) -> None:
        """The noise phase trains, and the noise scale depends on the learning rate: start from the user's.

        Only a new reference learning rate replaces what the field says, so a value typed here stays
        while the request changes otherwise (limits on the plan screen, say).
        """
        request = self.state.request
        if request is not None and request.reference.lr != self.noise_lr_from:
            self.noise_lr_from = request.reference.lr
            self.query_one("#noise_lr", Input).value = form_from_request(request)["ref_lr"]

    def _show_result(self, _changed: object = None) -> None:
        self.query_one("#probe-result", Static).update(result_panel(self.state.report, self.state.report_note))

    def _show_report(self, report: ProbeReport | None) -> None:
        """A report from a file, or the one a run just made: its points in the plot and the log."""
        if report is None or self.running:
            return
        self._show_result()
        self.query_one(XYPlot).plot(*plot_series(report.points))
        self.query_one("#probe-status", Static).update(
            f"{report.model.id} on {report.device.name}: {len(report.ok_points())} points, {report.stop_reason}")
        if report is self.run_report:  # the log already tells this run's story, event by event
            return
        log = self.query_one(Log)
        log.clear()
        log.write_lines([f"report of {report.created_at:%Y-%m-%d %H:%M} UTC, {report.settings.precision}, "
                         f"{report.settings.kernels} kernels",
                         *(point_line(p) for p in report.points), f"stopped: {report.stop_reason}"])

    def _values(self) -> dict[str, str]:
        values = {field_id: self.query_one(f"#{field_id}", Input).value for field_id in SETTINGS}
        values["device"] = str(self.query_one("#device", Select).value)
        values["kernels"] = str(self.query_one("#kernels", Select).value)
        return values

    @on(Input.Changed)
    def _revalidate(self) -> None:
        self._checked()

    def _checked(self) -> ProbeSettings:
        """The settings parsed, with what is wrong flagged on its field and said in the line below the rows.

        The missing model is not said there: the target line under the rows already says it.
        """
        settings = probe_settings(self.state.request, self._values())
        for field_id in SETTINGS:
            self.query_one(f"#{field_id}", Input).set_class(field_id in settings.errors, "-invalid")
        shown = {k: v for k, v in settings.errors.items() if k in SETTINGS}
        line = self.query_one("#probe-errors", Static)
        line.update(error_line(shown))
        line.display = bool(shown)
        return settings

    def action_run_probe(self) -> None:
        if self.running:
            self.notify("a probe is already running; Escape cancels it", severity="warning")
            return
        settings = self._checked()
        if settings.job is None:
            self.notify(error_line(settings.errors), severity="error")
            return
        self.running = True
        self.cancel_event = threading.Event()
        self.live_points = []
        self.query_one(Log).clear()
        self.query_one(XYPlot).plot()
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(progress=0.0)
        self.phase = Phase("sweep", 0.0, 0.0)
        self.query_one("#probe-status", Static).update("starting")
        self._probe(settings.job, self.cancel_event)

    @work(thread=True, exclusive=True, group="probe", name="probe")
    def _probe(self, job: ProbeJob, cancel: threading.Event) -> None:
        try:
            report = self.runner(job, lambda event: self.post_message(self.Progress(event)), cancel)
        except BatchfitError as exc:
            self.post_message(self.Failed(screen_words(str(exc))))
            return
        except Exception as exc:  # anything else from user model code: one line, never a traceback
            self.post_message(self.Failed(f"probe failed: {type(exc).__name__}: {exc}".splitlines()[0]))
            return
        self.post_message(ReportReady(report, "cancelled" if cancel.is_set() else "probe"))

    def action_cancel_probe(self) -> None:
        if self.running and not self.cancel_event.is_set():
            self.cancel_event.set()
            self.query_one("#probe-status", Static).update("cancelling: finishing the current step")

    def on_probe_screen_progress(self, message: Progress) -> None:
        event = message.event
        self.phase = next_phase(self.phase, event)
        self.query_one(ProgressBar).update(progress=self.phase.fraction)
        if not self.cancel_event.is_set():
            self.query_one("#probe-status", Static).update(self.phase.status())
        if event.kind in ("point-done", "oom") and event.point is not None:
            self.live_points.append(event.point)
            self.query_one(XYPlot).plot(*plot_series(self.live_points))
        line = event_line(event)
        if line:
            self.query_one(Log).write_line(screen_words(line))

    def on_probe_screen_failed(self, message: Failed) -> None:
        self.running = False
        self.query_one(Log).write_line(message.text)
        self.query_one("#probe-status", Static).update("failed")
        self.notify(message.text, severity="error")

    @on(ReportReady)
    def _finished(self, message: ReportReady) -> None:
        """Let the app keep the report (the message bubbles on); say what the run left behind."""
        if message.source == "file":
            return
        self.running = False
        self.run_report = message.report
        if message.source == "cancelled":
            self.query_one(Log).write_line(f"cancelled: kept {len(message.report.ok_points())} measured points")
        else:
            self.query_one(ProgressBar).update(progress=1.0)
        self._show_report(message.report)

    def action_load_report(self) -> None:
        def load(path: Path | None) -> None:
            if path is None:
                return
            try:
                report = load_probe_report(path)
            except BatchfitError as exc:
                self.notify(str(exc), severity="error")
                return
            self.post_message(ReportReady(report, "file"))
            self.notify(f"probe report loaded from {path}")

        self.app.push_screen(PathPrompt("Load a probe report (.json)", DEFAULT_REPORT_FILE), load)

    def action_save_report(self) -> None:
        report = self.state.report
        if report is None:
            self.notify("nothing to save yet: run a probe first", severity="error")
            return

        def save(path: Path | None) -> None:
            if path is None:
                return
            try:
                save_probe_report(report, path)
            except OSError as exc:
                self.notify(f"cannot write {path}: {exc.strerror}", severity="error")
                return
            self.notify(f"probe report saved to {path}")

        self.app.push_screen(PathPrompt("Save the probe report as (.json)", DEFAULT_REPORT_FILE), save)

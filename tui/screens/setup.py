"""Setup: the request form. Every keystroke re-checks the whole form; a valid form becomes the app's request."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Checkbox, Footer, Header, Input, Select, Static

from planner.contracts.request import PlanRequest
from planner.errors import BadInput
from planner.request_file import load_request, save_request
from tui.contract_fields import OPTIMIZERS, PRECISIONS
from tui.messages import RequestEdited
from tui.request_form import (
    SPECS,
    WORKLOAD_KINDS,
    form_from_request,
    request_from_form,
    same_value,
)
from tui.screens.base import BatchfitScreen
from tui.screens.path_prompt import PathPrompt
from tui.widgets.form_row import FormRow

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Model and workload", ("model", "workload_kind", "amount", "dataset_size", "trainable")),
    ("Reference run", ("ref_batch", "ref_lr", "optimizer", "betas", "eps", "momentum", "weight_decay",
                       "warmup_steps")),
    ("Limits and cloud", ("budget", "deadline", "precision", "providers", "regions", "spot", "max_gpus",
                            "max_nodes", "gpus", "noise_scale")),
)
SELECTS = {
    "workload_kind": ("Workload", WORKLOAD_KINDS),
    "optimizer": ("Optimizer", OPTIMIZERS),
    "precision": ("Precision", PRECISIONS),
}
DEPENDENTS = {"workload_kind": ("amount", "dataset_size"), "optimizer": ("betas", "momentum")}
"""Editing a field also counts as editing these: epochs make the dataset size required, at once."""
DEFAULT_REQUEST_FILE = "batchfit-request.toml"
GENERIC_DEFAULTS = {"max_gpus": "8", "max_nodes": "16"}
"""Filled in on a first start; model, workload and reference run are the user's to give."""


class SetupScreen(BatchfitScreen):
    """The form that makes a PlanRequest; ctrl+s / ctrl+o save and load it as the CLI's request file.

    A field shows what is wrong with it once the user has edited it, or once they asked for the
    request (Enter in a field, ctrl+s); the status line counts every field to fix from the start.
    """

    AUTO_FOCUS = "#model"
    BINDINGS = [
        Binding("ctrl+s", "save_request", "Save"),
        Binding("ctrl+o", "load_request", "Load"),
    ]

    def __init__(self) -> None:
        super().__init__(id="setup")
        self._sent: PlanRequest | None = None
        self.touched: set[str] = set()
        self.submitted = False
        self.settled = False
        """False while mounting: the controls' first Changed messages are not the user's edits."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="setup-form"):
            for title, field_ids in SECTIONS:
                yield Static(title, classes="section-title")
                for field_id in field_ids:
                    yield FormRow(self._label(field_id), self._control(field_id), id=f"row-{field_id}")
        yield Static("", id="setup-status")
        yield Footer(compact=True)

    @staticmethod
    def _label(field_id: str) -> str:
        if field_id == "model":
            return "Model"
        if field_id == "spot":
            return "Spot"
        if field_id in SELECTS:
            return SELECTS[field_id][0]
        return SPECS[field_id].label

    @staticmethod
    def _control(field_id: str) -> Widget:
        if field_id in SELECTS:
            options = [(value, value) for value in SELECTS[field_id][1]]
            return Select(options, allow_blank=False, compact=True, id=field_id)
        if field_id == "spot":
            return Checkbox("allow spot instances", compact=True, id=field_id)
        placeholder = "preset or package.module:factory" if field_id == "model" else SPECS[field_id].placeholder
        return Input(placeholder=placeholder, compact=True, id=field_id)

    def on_mount(self) -> None:
        self.sub_title = "Setup"
        if self.state.request is None:
            self.fill(GENERIC_DEFAULTS)
        self.watch(self.app, "request", self._show_request)
        self.watch(self.app, "presets", self._offer_presets)
        self.watch(self.app, "catalog", self.revalidate)
        self.call_after_refresh(setattr, self, "settled", True)

    def _offer_presets(self, presets: tuple[str, ...]) -> None:
        self.query_one("#model", Input).suggester = SuggestFromList(presets, case_sensitive=False)
        self.revalidate()

    def _show_request(self, request: PlanRequest | None) -> None:
        """Fill the form from a request made elsewhere (a loaded file, the plan screen's limits)."""
        if request is None or request == self._sent:
            return
        self._sent = request
        current = self.values()
        self.fill({field_id: text for field_id, text in form_from_request(request).items()
                   if not same_value(field_id, current.get(field_id, ""), text)})

    def fill(self, values: dict[str, str]) -> None:
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            for field_id, text in values.items():
                widget = self.query_one(f"#{field_id}")
                if isinstance(widget, Checkbox):
                    widget.value = text == "yes"
                elif isinstance(widget, (Input, Select)):
                    widget.value = text
        self.revalidate()

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for widget in self.query(".form-row--control"):
            if isinstance(widget, Checkbox):
                out[widget.id or ""] = "yes" if widget.value else "no"
            elif isinstance(widget, (Input, Select)):
                out[widget.id or ""] = str(widget.value)
        return out

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _edited(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        field_id = event.control.id or ""
        if self.settled:
            self.touched |= {field_id, *DEPENDENTS.get(field_id, ())}
        self.revalidate()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.submitted = True
        self.revalidate()

    def revalidate(self) -> None:
        values = self.values()
        result = request_from_form(values, self.choices(), kept=self.state.request)
        for row in self.query(FormRow):
            field_id = row.control.id or ""
            shown = self.submitted or field_id in self.touched
            row.error = result.errors.get(field_id, "") if shown else ""
        self.query_one("#dataset_size", Input).disabled = values.get("workload_kind") != "epochs"
        self.query_one("#momentum", Input).disabled = values.get("optimizer") != "sgd"
        self.query_one("#betas", Input).disabled = values.get("optimizer") == "sgd"
        status = self.query_one("#setup-status", Static)
        status.set_class(bool(result.errors), "-invalid")
        if result.request is None:
            count = len(result.errors)
            status.update(f"{count} field{'s' if count != 1 else ''} to fix before planning")
            return
        status.update("Request is valid: F2 to probe the model, F3 to see the plan")
        if result.request != self._sent:
            self._sent = result.request
            self.post_message(RequestEdited(result.request))

    def action_save_request(self) -> None:
        self.submitted = True
        self.revalidate()
        if self._sent is None:
            self.notify("fix the form first: the request is not valid", severity="error")
            return
        request = self._sent

        def save(path: Path | None) -> None:
            if path is None:
                return
            if path.suffix not in (".toml", ".json"):
                self.notify("name the request file .toml or .json", severity="error")
                return
            try:
                save_request(request, path)
            except OSError as exc:
                self.notify(f"cannot write {path}: {exc.strerror}", severity="error")
                return
            self.notify(f"request saved to {path}")

        self.app.push_screen(PathPrompt("Save the request as (.toml or .json)", DEFAULT_REQUEST_FILE), save)

    def action_load_request(self) -> None:
        def load(path: Path | None) -> None:
            if path is None:
                return
            try:
                request = load_request(path)
            except BadInput as exc:
                self.notify(str(exc), severity="error")
                return
            self.post_message(RequestEdited(request))
            self.notify(f"request loaded from {path}")

        self.app.push_screen(PathPrompt("Load a request file (.toml or .json)", DEFAULT_REQUEST_FILE), load)

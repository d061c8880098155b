"""One row of a form: a label, the control, and the reason the value is wrong, beside it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Static


class FormRow(Horizontal):
    """Wraps a control; set `error` to show a one-line reason and flag the row as invalid."""

    DEFAULT_CSS = """
    FormRow { height: auto; min-height: 1; }
    FormRow > .form-row--label { width: 16; color: $text-muted; }
    FormRow > .form-row--control { width: 1fr; max-width: 40; }
    FormRow > .form-row--error { width: 1fr; padding-left: 1; color: $text-error; }
    FormRow.-invalid > .form-row--label { color: $text-error; }
    """

    error: reactive[str] = reactive("")

    def __init__(self, label: str, control: Widget, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.control = control

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="form-row--label")
        self.control.add_class("form-row--control")
        yield self.control
        yield Static("", classes="form-row--error", markup=False)

    def watch_error(self, error: str) -> None:
        self.set_class(bool(error), "-invalid")
        self.control.set_class(bool(error), "-invalid")
        self.query_one(".form-row--error", Static).update(error)

"""Budget, deadline, spot and providers above the plan: edits re-plan as they are typed, without probing again.

What is wrong shows at once; a valid edit re-plans once the keys pause (LIMIT_DEBOUNCE_S), and
while a limit is wrong the bar says so (Validity) so the plan screen marks its plan stale.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Label, Static

from planner.contracts.request import PlanRequest
from tui.messages import RequestEdited
from tui.request_form import LIMIT_FIELDS, Choices, form_from_request, with_limits

LIMIT_DEBOUNCE_S = 0.05
"""Seconds of quiet after a keystroke before re-planning: `2e10` typed is one plan, not four."""


class LimitsBar(Vertical):
    """One line of compact inputs, and one line that says what is wrong with them (hidden when nothing is)."""

    class Validity(Message):
        """Whether the limits as typed are valid; while not, the plan shown is for the last valid ones."""

        def __init__(self, valid: bool) -> None:
            super().__init__()
            self.valid = valid

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request: PlanRequest | None = None
        self.choices = Choices()
        self.valid = True
        self._timer: Timer | None = None
        self._pending: PlanRequest | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="limits-inputs"):
            yield Label("Budget $", classes="limit-label")
            yield Input(placeholder="none", compact=True, id="limit-budget")
            yield Label("Deadline h", classes="limit-label")
            yield Input(placeholder="none", compact=True, id="limit-deadline")
            yield Checkbox("spot", compact=True, id="limit-spot")
            yield Label("Providers", classes="limit-label")
            yield Input(placeholder="all", compact=True, id="limit-providers")
        yield Static("", id="limits-error", markup=False)

    def show(self, request: PlanRequest | None, choices: Choices) -> None:
        """Put the app's request into the inputs, unless they already say the same."""
        self.choices = choices
        if request is None or request == self.request:
            return
        self.request = request
        texts = form_from_request(request)
        with self.prevent(Input.Changed, Checkbox.Changed):
            for field_id in LIMIT_FIELDS:
                self.query_one(f"#limit-{field_id}", Input).value = texts[field_id]
            self.query_one("#limit-spot", Checkbox).value = request.spot
        self._show_errors({})

    def _show_errors(self, errors: dict[str, str]) -> None:
        for field_id in LIMIT_FIELDS:
            self.query_one(f"#limit-{field_id}", Input).set_class(field_id in errors, "-invalid")
        line = self.query_one("#limits-error", Static)
        line.update("; ".join(f"{field_id}: {message}" for field_id, message in errors.items()))
        line.display = bool(errors)
        if self.valid == bool(errors):
            self.valid = not errors
            self.post_message(self.Validity(self.valid))

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _edited(self, event: Input.Changed | Checkbox.Changed) -> None:
        event.stop()
        if self.request is None:
            return
        values = {field_id: self.query_one(f"#limit-{field_id}", Input).value for field_id in LIMIT_FIELDS}
        values["spot"] = "yes" if self.query_one("#limit-spot", Checkbox).value else "no"
        result = with_limits(self.request, values, self.choices)
        self._show_errors(result.errors)
        if result.request is not None and result.request != self.request:
            self.request = self._pending = result.request
            if self._timer is not None:
                self._timer.stop()
            if isinstance(event, Checkbox.Changed):  # one click is one edit: no keys to wait out
                self._send()
            else:
                self._timer = self.set_timer(LIMIT_DEBOUNCE_S, self._send)

    def _send(self) -> None:
        if self._pending is not None:
            self.post_message(RequestEdited(self._pending))
            self._pending = None

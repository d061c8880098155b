"""One dialog to export the plan: the format, the folder it goes to, the file name; it asks before
overwriting and shows what went wrong inside itself, so nothing typed is lost to an error."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select, Static

from planner.contracts.plan import Plan
from planner.errors import BadInput
from tui.export import export_plan

FORMATS = (("JSON (the Plan document)", ".json"), ("markdown (for people)", ".md"))
STEM = "batchfit-plan"


class ExportDialog(ModalScreen[Path | None]):
    """Dismisses with the path written, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: Plan, folder: Path) -> None:
        super().__init__()
        self.plan = plan
        self.folder = folder
        self.confirm: Path | None = None
        """A path the user was asked about: Enter again on it overwrites."""

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            yield Label("Export the plan", id="export-title")
            with Horizontal(classes="export-row"):
                yield Label("Format", classes="export-label")
                yield Select(FORMATS, value=".json", allow_blank=False, compact=True, id="export-format")
            with Horizontal(classes="export-row"):
                yield Label("Folder", classes="export-label")
                yield Static(str(self.folder), id="export-folder", markup=False)
            with Horizontal(classes="export-row"):
                yield Label("File", classes="export-label")
                yield Input(STEM + ".json", compact=True, id="export-name")
            yield Static("", id="export-error", markup=False)
            yield Label("Enter writes, Escape cancels; a name with a folder in it goes there", id="export-hint")

    def on_mount(self) -> None:
        self.query_one("#export-name", Input).focus()

    def target(self) -> Path:
        """The path to write: a name without a suffix takes the chosen format's."""
        path = self.folder / Path(self.query_one("#export-name", Input).value.strip()).expanduser()
        return path if path.suffix else path.with_suffix(str(self.query_one("#export-format", Select).value))

    @on(Select.Changed, "#export-format")
    def _format(self, event: Select.Changed) -> None:
        name = self.query_one("#export-name", Input)
        stem = Path(name.value.strip() or STEM)
        name.value = str(stem.with_suffix(str(event.value)))
        self._say("")

    @on(Input.Changed, "#export-name")
    def _renamed(self) -> None:
        self.confirm = None
        self._say("")

    def _say(self, text: str, warn: bool = False) -> None:
        line = self.query_one("#export-error", Static)
        line.update(text)
        line.set_class(warn, "-warn")
        line.display = bool(text)

    @on(Input.Submitted, "#export-name")
    def write(self) -> None:
        path = self.target()
        if not self.query_one("#export-name", Input).value.strip():
            self._say("type a file name")
            return
        if path.exists() and self.confirm != path:
            self.confirm = path
            self._say(f"{path.name} exists in {path.parent}: Enter again replaces it", warn=True)
            return
        try:
            written = export_plan(self.plan, path)
        except BadInput as exc:
            self._say(str(exc))
            return
        self.dismiss(written)

    def action_cancel(self) -> None:
        self.dismiss(None)

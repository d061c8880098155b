"""The app's own help: every key on every screen and what the table's marks mean; Escape closes it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from planner.contracts.plan import DATA_INFLATION_FLAG
from tui.candidate_rows import COLUMNS

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Everywhere", (
        ("F1 F2 F3 F4", "Setup, Probe, Plan, Quotes"),
        ("?", "this help (outside text fields)"),
        ("q", "quit (outside text fields); ctrl+q quits from anywhere"),
        ("ctrl+p", "command palette: every action by name"),
        ("tab / shift+tab", "next / previous field"),
        ("F5", "light or dark theme"),
    )),
    ("Setup", (
        ("ctrl+s", "save the request as .toml or .json (batchfit plan --request reads it)"),
        ("ctrl+o", "load a request file"),
    )),
    ("Probe", (
        ("ctrl+r", "run the probe on this machine"),
        ("escape", "cancel it (the points measured so far are kept)"),
        ("ctrl+l / ctrl+s", "load / save a probe report"),
    )),
    ("Plan", (
        ("/", "filter the candidates (words match cloud, instance, GPU, market; a region by its start)"),
        (" ".join(c.letter for c in COLUMNS), "sort by " + ", ".join(c.title for c in COLUMNS) + "; again reverses"),
        ("r", "reverse the sort"),
        ("space", "show the regions of a grouped row (Region says +N), or fold them"),
        ("enter", "explain the highlighted candidate (Why tab)"),
        ("z", "chart: what meets the limits and the frontier, or every candidate"),
        ("ctrl+e", "export the plan (JSON or markdown)"),
    )),
    ("Quotes", (
        ("/", "filter by GPU"),
        ("header click or letter", "sort by that column; again reverses"),
    )),
)
MARKS: tuple[tuple[str, str], ...] = (
    ("★", "the recommendation"),
    ("◆", "on the Pareto frontier: nothing else is both faster and cheaper"),
    ("⊕", "the chart's mark for the table's highlighted row"),
    ("Due ✓/✗", "meets the deadline or not"),
    ("Bgt ✓/✗", "within the budget or not"),
    ("B/GPU, Acc", "batch per GPU, micro-batches accumulated per step"),
    ("Prec", "the candidate's precision: the request's, or fp16 where the GPU has no bf16 (wide terminals)"),
    ("Hours range", "hours at both ends of the plausible noise scale (wide terminals)"),
    ("Data", f"samples trained on over those asked for; ! past {DATA_INFLATION_FLAG:g}× (wide terminals)"),
    ("GPUs, Nodes", "GPUs per instance, instances rented together (a cluster)"),
    ("$/h, Step ms, GB/GPU", "price per hour of all its instances, step time, memory per GPU (wide terminals)"),
    ("STALE", "a limit is not valid: the plan shown is for the last valid limits"),
)


def help_text() -> Content:
    lines: list[Content] = []
    for title, keys in KEYS:
        lines.append(Content.assemble((title, "bold $text-accent")))
        lines += [Content.assemble((f"  {key:<22}", "bold"), what) for key, what in keys]
        lines.append(Content(""))
    lines.append(Content.assemble(("Marks and columns", "bold $text-accent")))
    lines += [Content.assemble((f"  {mark:<22}", "bold"), what) for mark, what in MARKS]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(help_text(), id="help-text")
            yield Static("Escape closes", id="help-hint")

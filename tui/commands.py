"""Command-palette entries (ctrl+p) for the app's main actions."""

from __future__ import annotations

from collections.abc import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action string run on the app)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Setup: edit the request", "model, workload, reference run, limits", "switch_mode('setup')"),
    ("Probe: measure the model", "open the probe screen", "switch_mode('probe')"),
    ("Run probe", "sweep batch sizes on the local device", "run_probe"),
    ("Load probe report", "plan from a saved report instead of probing", "load_report"),
    ("Plan: candidates and recommendation", "open the plan screen", "switch_mode('plan')"),
    ("Quotes: browse prices", "offers with their age", "switch_mode('quotes')"),
    ("Save request", "as a .toml or .json file `batchfit plan --request` reads", "save_request"),
    ("Load request", "from a .toml or .json file", "load_request"),
    ("Export plan", "as JSON (the Plan document) or markdown", "export"),
    ("Help: keys and marks", "every key on every screen, what ★ ◆ Due Bgt mean", "help"),
    ("Toggle light / dark", "switch between the light and dark themes", "toggle_theme"),
)


class BatchfitCommands(Provider):
    def _runner(self, action: str) -> Callable[[], object]:
        app = self.app
        return lambda: app.run_action(action)

    async def discover(self) -> Hits:
        for title, help_text, action in COMMANDS:
            yield DiscoveryHit(title, self._runner(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._runner(action), help=help_text)

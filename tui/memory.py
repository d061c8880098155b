"""The last request and probe report, kept between launches in the user's state folder.

platformdirs names the folder (~/.local/state/batchfit on Linux). A file that no longer loads
(an older schema with no migration, a hand edit) is ignored with a warning, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from planner.contracts.probe import ProbeReport
from planner.contracts.request import PlanRequest
from planner.errors import BatchfitError
from planner.report_file import load_probe_report, save_probe_report
from planner.request_file import load_request, save_request

REQUEST_FILE, REPORT_FILE = "last-request.json", "last-probe.json"


def default_state_dir() -> Path:
    return Path(platformdirs.user_state_dir("batchfit", appauthor=False))


@dataclass(frozen=True)
class Memory:
    """Reads and writes the two files under `folder`; every failure is a one-line warning."""

    folder: Path

    def recall(self) -> tuple[PlanRequest | None, ProbeReport | None, list[str]]:
        warnings: list[str] = []
        request = report = None
        if (self.folder / REQUEST_FILE).exists():
            try:
                request = load_request(self.folder / REQUEST_FILE)
            except BatchfitError as exc:
                warnings.append(f"the last request was not restored: {exc}")
        if (self.folder / REPORT_FILE).exists():
            try:
                report = load_probe_report(self.folder / REPORT_FILE)
            except BatchfitError as exc:
                warnings.append(f"the last probe report was not restored: {exc}")
        return request, report, warnings

    def keep_request(self, request: PlanRequest) -> str | None:
        return self._write(lambda path: save_request(request, path), REQUEST_FILE)

    def keep_report(self, report: ProbeReport) -> str | None:
        return self._write(lambda path: save_probe_report(report, path), REPORT_FILE)

    def _write(self, save: Callable[[Path], None], name: str) -> str | None:
        """None when written; else why not, in one line."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            save(self.folder / name)
        except (OSError, BatchfitError) as exc:
            return f"cannot remember {name} in {self.folder}: {exc}"
        return None

"""Reading a saved ProbeReport: the CI path, so no torch here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.contracts.migrate import SchemaVersionError, upgrade
from planner.contracts.probe import ProbeReport
from planner.errors import BadInput
from planner.report_check import check_report
from providers.textfile import write_text_atomically
from planner.request_file import DuplicateKey, first_error, read_document, unique_keys


def parse_probe_report(data: Any, where: str) -> ProbeReport:
    """A report from its JSON value, through the schema migrations; `where` names it in errors."""
    if not isinstance(data, dict) or "schema_version" not in data:
        raise BadInput(f"{where} is not a batchfit probe report (no schema_version); make one with `batchfit probe`")
    try:
        data = upgrade("probe", data)
    except SchemaVersionError as exc:
        raise BadInput(f"{where} {exc}") from None
    try:
        report = ProbeReport.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"probe report {where} is malformed at {first_error(exc)}; re-run `batchfit probe`") from None
    return check_report(report, f"probe report {where}")


def load_probe_report(path: Path) -> ProbeReport:
    text = read_document(path, "probe report", f"make one with `batchfit probe --out {path}`")
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except (json.JSONDecodeError, DuplicateKey) as exc:
        raise BadInput(f"probe report {path} is not JSON ({exc}); make one with `batchfit probe --out {path}`") from None
    return parse_probe_report(data, str(path))


def save_probe_report(report: ProbeReport, path: Path) -> None:
    """Written whole and atomically (providers/textfile.py): never half a report."""
    write_text_atomically(path, report.model_dump_json(indent=2) + "\n")

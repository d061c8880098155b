"""Writing a plan to disk: JSON is the Plan model itself, markdown is planner.view's."""

from __future__ import annotations

from pathlib import Path

from planner.contracts.plan import Plan
from planner.errors import BadInput
from planner.view import render_markdown

FORMATS = {".json": "JSON", ".md": "markdown"}


def plan_text(plan: Plan, suffix: str) -> str:
    if suffix == ".json":
        return plan.model_dump_json(indent=2) + "\n"
    if suffix == ".md":
        return render_markdown(plan)
    raise BadInput(f"cannot export to '{suffix or 'no suffix'}'; name the file .json or .md")


def export_plan(plan: Plan, path: Path) -> Path:
    """Write the plan in the format the file name asks for; returns the absolute path written."""
    text = plan_text(plan, path.suffix.lower())
    if not path.parent.is_dir():
        raise BadInput(f"folder {path.parent} does not exist")
    try:
        path.write_text(text)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror}") from None
    return path.resolve()

"""Why the plan recommends what it does: planner.view's sections, drawn as styled text.

The sections are built once in planner.view (the CLI and the markdown export show the same);
this widget only styles them, and adds what the catalog knows of a price (its source and age).
"""

from __future__ import annotations

import datetime as dt

from textual.content import Content
from textual.widgets import Static

from planner.contracts.plan import Candidate, Plan
from planner.view import PriceNote, Section, plan_sections
from providers.schema import Catalog
from tui.price_age import age_text


def catalog_price_note(catalog: Catalog | None, today: dt.date) -> PriceNote | None:
    """The offer's own source and date, with its age; None (the plan's table dates) without a catalog."""
    if catalog is None:
        return None
    offers = {o.key: o for o in catalog.offers}

    def note(c: Candidate) -> str:
        offer = offers.get((c.provider, c.instance, c.region, c.market))
        if offer is None:
            return "price table"
        return f"{offer.source}, as of {offer.as_of} ({age_text((today - offer.as_of).days)} old)"

    return note


def section_lines(section: Section) -> list[Content]:
    lines = [Content.assemble((section.title, "bold $text-accent"))]
    if section.lead:
        lines.append(Content.assemble(("  " + section.lead, "bold" if section.rows else "")))
    for row in section.rows:
        parts: list[str | tuple[str, str]] = [(f"  {row.label}: ", "$text-muted"), row.value]
        if row.note:
            parts.append((f"  [{row.note}]", "italic $text-muted"))
        lines.append(Content.assemble(*parts))
    mark = ("  ! ", "$text-warning") if section.kind == "warnings" else ("  - ", "")
    lines += [Content.assemble(mark, bullet) for bullet in section.bullets]
    return [*lines, Content("")]


def explanation(plan: Plan, chosen_id: int | None, catalog: Catalog | None, today: dt.date) -> Content:
    """The chosen candidate first (when the user picked one), then the plan's sections."""
    lines: list[Content] = []
    for section in plan_sections(plan, catalog_price_note(catalog, today), chosen_id):
        lines += section_lines(section)
    return Content("\n").join(lines[:-1])


class PlanExplanation(Static):
    """Scrollable text: wrap it in a VerticalScroll."""

    def show(self, plan: Plan | None, chosen_id: int | None, catalog: Catalog | None, today: dt.date) -> None:
        if plan is None:
            self.update("")
            return
        self.update(explanation(plan, chosen_id, catalog, today))

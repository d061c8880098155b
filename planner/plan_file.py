"""Reading a saved Plan (`batchfit plan --json > plan.json`) for `batchfit diff`; no torch here."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from planner.contracts.migrate import SchemaVersionError, upgrade
from planner.contracts.plan import Plan
from planner.errors import BadInput
from planner.request_file import DuplicateKey, first_error, read_document, unique_keys

HOW = "write one with `batchfit plan ... --json > plan.json`"


def load_plan(path: Path) -> Plan:
    text = read_document(path, "plan", HOW)
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except (json.JSONDecodeError, DuplicateKey) as exc:
        raise BadInput(f"plan {path} is not JSON ({exc}); {HOW}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise BadInput(f"{path} is not a batchfit plan (no schema_version); {HOW}")
    try:
        data = upgrade("plan", data)
    except SchemaVersionError as exc:
        raise BadInput(f"{path} {exc}") from None
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"plan {path} is malformed at {first_error(exc)}; {HOW}") from None

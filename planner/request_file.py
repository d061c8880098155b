"""PlanRequest files: TOML or JSON, read by the CLI and written by the TUI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.contracts.migrate import SchemaVersionError, upgrade
from planner.contracts.request import PlanRequest
from planner.errors import BadInput
from providers.textfile import FileProblem, read_text


def first_error(err: ValidationError) -> str:
    """One line from pydantic's report: the field path and what is wrong with it."""
    e = err.errors()[0]
    where = ".".join(str(x) for x in e["loc"]) or "document"
    return f"{where}: {e['msg']}"


class DuplicateKey(ValueError):
    """A JSON object names a key twice (json.loads would silently keep the last)."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(f"the key {key!r} appears twice; keep one")
        out[key] = value
    return out


def read_document(path: Path, what: str, how: str) -> str:
    """The text of a file the user named, or BadInput saying what the path is instead."""
    try:
        return read_text(path)
    except FileProblem as exc:
        raise BadInput(f"{what} {path} {exc}" + (f"; {how}" if exc.missing else "")) from None


def load_request(path: Path) -> PlanRequest:
    text = read_document(path, "request file", "save one from the TUI or write it by hand (see README)")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text, object_pairs_hook=unique_keys)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, DuplicateKey) as exc:
        raise BadInput(f"request file {path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}") from None
    return parse_request(data, f"request file {path}")


def parse_request(data: Any, where: str) -> PlanRequest:
    """A request from its TOML/JSON value, through the schema migrations; `where` names it in errors."""
    if not isinstance(data, dict):
        raise BadInput(f"{where} is not a table of settings; see README for a request file")
    try:
        data = upgrade("request", data)
    except SchemaVersionError as exc:
        raise BadInput(f"{where} {exc}") from None
    try:
        return PlanRequest.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"{where}: {first_error(exc)}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string literal is a valid TOML basic string


def request_to_toml(request: PlanRequest) -> str:
    """Scalars first, then one [table] per nested model; None fields are left out."""
    data = request.model_dump(mode="json", exclude_none=True)
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def save_request(request: PlanRequest, path: Path) -> None:
    text = request_to_toml(request) if path.suffix == ".toml" else request.model_dump_json(indent=2) + "\n"
    path.write_text(text)

"""A setting is declared once, in its contract: type, default, range, flag name, unit and help.

The command line (`planner.cli.flags`), the request file and the TUI all read the same field, so
a default, a range or a flag name lives in exactly one place.

How to add a setting with a flag (e.g. `--max-epochs` on PlanRequest):

    max_epochs: int | None = setting(None, flag="--max-epochs", help="stop after this many epochs", ge=1)

- The annotation is the flag's type: int, float, bool, str, Path, a Literal (choices), list[str]
  (a comma list), each optionally `| None`. The pydantic bounds (gt, ge, lt, le) are its range;
  NaN and inf are refused for every number.
- `unit` is what the flag counts in, shown in `--help` and the JSON Schema (e.g. "s", "GB");
  `scale` converts the flag's unit to the field's (`--memory-cap` GB -> memory_cap_bytes: scale=1e9).
- The flag's default is always "not given"; the field's default applies when the model is built,
  so the default is stated once, here, and `--help` shows it (unless the help text itself says
  "default"). A bool flag is `--x` (or `--x/--no-x` with negatable=True).
- Nothing else: `planner.cli.flags.add_flags(parser, Model)` adds every field that names a flag,
  and `given(args, Model)` returns the values the user gave, keyed by field name, ready for
  `Model.model_validate` (never `model_copy(update=...)`: that skips these checks).
A field without `flag=` is a setting with no flag (e.g. ProbeConfig.timed_steps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo


class Strict(BaseModel):
    """Every contract: unknown keys and non-finite numbers (NaN, inf) are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class FlagSpec:
    """The command-line face of one field."""

    flag: str
    help: str
    unit: str | None = None
    scale: float | None = None
    negatable: bool = False
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def setting(default: Any = ..., *, flag: str | None = None, help: str, unit: str | None = None,
            scale: float | None = None, negatable: bool = False, metavar: str | None = None,
            **constraints: Any) -> Any:
    """A pydantic Field carrying its flag; `constraints` are Field's own (gt, ge, lt, le, default_factory).

    The flag rides in json_schema_extra as plain JSON, so `batchfit schema` shows it too."""
    extra: dict[str, Any] = {}
    if flag is not None:
        extra = {"flag": flag, "unit": unit, "flag_scale": scale, "flag_negatable": negatable or None,
                 "flag_metavar": metavar}
        extra = {k: v for k, v in extra.items() if v is not None}
    return Field(default, description=help, json_schema_extra=extra or None, **constraints)


def flag_of(info: FieldInfo) -> FlagSpec | None:
    extra = info.json_schema_extra
    if not isinstance(extra, dict) or not isinstance(extra.get("flag"), str):
        return None
    scale = extra.get("flag_scale")
    return FlagSpec(flag=str(extra["flag"]), help=info.description or "",
                    unit=str(extra["unit"]) if "unit" in extra else None,
                    scale=float(scale) if isinstance(scale, (int, float)) else None,
                    negatable=bool(extra.get("flag_negatable", False)),
                    metavar=str(extra["flag_metavar"]) if "flag_metavar" in extra else None)


def flags_of(model: type[BaseModel]) -> dict[str, FlagSpec]:
    """field name -> its flag, for every field of `model` that has one, in declaration order."""
    out = {}
    for name, info in model.model_fields.items():
        spec = flag_of(info)
        if spec is not None:
            out[name] = spec
    return out

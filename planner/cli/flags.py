"""Command-line flags derived from the contracts' fields (see `planner.contracts.settings`).

`add_flags(parser, Model)` adds a flag for every field that declares one; `given(args, Model)`
returns what the user typed, converted to the field's unit, for `Model.model_validate`. A flag's
argparse default is None ("not given"): the field's own default is the only one.
"""

from __future__ import annotations

import argparse
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from planner.cli.arg_types import Bounds, comma_list, number
from planner.contracts.settings import FlagSpec, flags_of

ArgTarget = argparse.ArgumentParser | argparse._ArgumentGroup | argparse._MutuallyExclusiveGroup


class _NoContradiction(argparse.BooleanOptionalAction):
    """--x / --no-x, but giving both is an error instead of the last one silently winning."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        before = getattr(namespace, self.dest, None)
        super().__call__(parser, namespace, values, option_string)
        after = getattr(namespace, self.dest)
        if before is not None and before != after:
            parser.error(f"{self.option_strings[0]} and {self.option_strings[1]} contradict each other; give one")


def _inner(annotation: Any) -> Any:
    """The annotation without `| None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _bounds(info: FieldInfo) -> Bounds:
    found: dict[str, float] = {}
    for item in info.metadata:
        for key in ("gt", "ge", "lt", "le"):
            value = getattr(item, key, None)
            if isinstance(value, (int, float)):
                found[key] = float(value)
    return Bounds(**found)


def _default_text(info: FieldInfo) -> str | None:
    default = info.default
    if default is PydanticUndefined or default is None or default is False:
        return None
    return f"{default:g}" if isinstance(default, float) else str(default)


def _help(spec: FlagSpec, info: FieldInfo) -> str:
    extras = [spec.unit] if spec.unit else []
    default = None if "default" in spec.help else _default_text(info)  # a help text may say it better
    if default is not None:
        extras.append(f"default {default}")
    return f"{spec.help} ({'; '.join(extras)})" if extras else spec.help


def _value_type(spec: FlagSpec, info: FieldInfo) -> tuple[Callable[[str], Any] | None, Sequence[str] | None]:
    """(argparse type, choices) for the field's annotation."""
    kind = _inner(info.annotation)
    if get_origin(kind) is Literal:
        return None, [str(c) for c in get_args(kind)]
    if kind is int or kind is float:
        return number(kind, spec.flag, _bounds(info), spec.scale), None
    if kind is Path:
        return Path, None
    if get_origin(kind) is list:
        return comma_list(spec.flag), None
    if kind is str:
        return str, None
    raise TypeError(f"field with flag {spec.flag} has a type the CLI cannot parse: {info.annotation}")


def add_flags(parser: argparse.ArgumentParser, model: type[BaseModel], *,
              skip: Sequence[str] = (), target: dict[str, ArgTarget] | None = None) -> None:
    """A flag per field of `model` that declares one; a flag the parser already has is left as it is
    (two contracts may share one, e.g. --model, --precision). target: field -> group to add it to."""
    known = {s for action in parser._actions for s in action.option_strings}
    for name, spec in flags_of(model).items():
        if name in skip or spec.flag in known:
            continue
        info = model.model_fields[name]
        where: ArgTarget = (target or {}).get(name, parser)
        if _inner(info.annotation) is bool:
            action: Any = _NoContradiction if spec.negatable else "store_true"
            where.add_argument(spec.flag, dest=spec.dest, action=action, default=None, help=_help(spec, info))
            continue
        parse, choices = _value_type(spec, info)
        kwargs: dict[str, Any] = {"dest": spec.dest, "default": None, "help": _help(spec, info)}
        if parse is not None:
            kwargs["type"] = parse
        if choices is not None:
            kwargs["choices"] = choices
        if spec.metavar:
            kwargs["metavar"] = spec.metavar
        where.add_argument(spec.flag, **kwargs)


def given(args: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """field name -> value, for each of `model`'s flags the user gave (already in the field's unit)."""
    out = {}
    for name, spec in flags_of(model).items():
        value = getattr(args, spec.dest, None)
        if value is not None:
            out[name] = value
    return out


def flag_names(*models: type[BaseModel]) -> dict[str, str]:
    """field name -> flag, over several contracts (for error messages in the user's terms)."""
    return {name: spec.flag for model in models for name, spec in flags_of(model).items()}


def flag_error(exc: ValidationError, flags: dict[str, str]) -> str:
    """pydantic's first complaint, at the flag of the field it is about when that field has one."""
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    names = [str(part) for part in error["loc"]]
    flag = next((flags[n] for n in reversed(names) if n in flags), None)
    return f"{flag}: {message}" if flag else f"{'.'.join(names) or 'document'}: {message}"

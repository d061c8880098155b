"""The live price sources batchfit knows, in one registry.

The CLI's `--refresh` choices, the `origin` an offer can carry and the cache layers `load_catalog`
reads all derive from `REFRESHERS`, so a new source is one entry here plus its module. Each
entry names its function as `module:function` and is imported only when that refresh runs: boto3
and gpuhunt stay optional, and this module imports nothing else from `providers` (the schema
imports it for the list of origins).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from providers.refresh import RefreshReport
    from providers.schema import Offer

# Origins of rows that no refresher writes: the bundled tables and the user's own CSV.
STATIC_ORIGINS = ("bundled", "user")


class Refresher(Protocol):
    """A live source: given the bundled offers (what to refresh), fetch, guard and cache prices.

    It never raises for a failed fetch: every problem is a warning in the returned report.
    """

    def __call__(self, catalog_offers: list[Offer], /) -> RefreshReport: ...


@dataclass(frozen=True)
class RefresherSpec:
    name: str  # CLI choice and cache file stem (`<name>.json`)
    origin: str  # the `Offer.origin` of every row it writes
    summary: str  # one line for --help and the README
    entry: str  # "module:function", imported on use

    def load(self) -> Refresher:
        module, _, function = self.entry.partition(":")
        return cast(Refresher, getattr(importlib.import_module(module), function))


REFRESHERS: tuple[RefresherSpec, ...] = (
    RefresherSpec("aws", "aws-api", "AWS Price List + EC2 spot history (boto3, your AWS credentials)",
                  "providers.aws:refresh_aws"),
    RefresherSpec("azure", "azure-api", "Azure Retail Prices API (no account needed)",
                  "providers.azure:refresh_azure"),
    RefresherSpec("gpuhunt", "gpuhunt", "dstack's gpuhunt public catalog (no credentials; pip install batchfit[gpuhunt])",
                  "providers.gpuhunt_source:refresh_gpuhunt"),
    RefresherSpec("skypilot", "skypilot", "your SkyPilot catalog files ~/.sky/catalogs/v8/*/vms.csv",
                  "providers.skypilot_local:refresh_skypilot"),
)


def refresher_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in REFRESHERS)


def refreshed_origins() -> tuple[str, ...]:
    return tuple(spec.origin for spec in REFRESHERS)


def all_origins() -> tuple[str, ...]:
    return STATIC_ORIGINS + refreshed_origins()


def spec(name: str) -> RefresherSpec:
    for entry in REFRESHERS:
        if entry.name == name:
            return entry
    raise KeyError(f"no refresher named {name!r}; known: {', '.join(refresher_names())}")

"""Schema versions of the documents batchfit writes, and the migrations that read old ones.

Every reader goes through `upgrade`: a document of any earlier version is brought to the current
one by explicit migrations, one version at a time; a newer version than this batchfit knows is
refused (never guessed at). tests/contracts/test_migrations.py loads every committed report and
fixture through it.

How to bump a schema (e.g. ProbeReport gains a field):
  1. Raise the version constant in its contract (PROBE_SCHEMA_VERSION = 2).
  2. Add the migration from the old version here: `MIGRATIONS["probe"][1] = _probe_1_to_2`, a
     function from the version-1 dict to a version-2 dict (fill the new field, rename, convert).
     Give the new field a default too, so documents built in code still validate.
  3. Run tests/contracts: every committed document must still load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from planner.contracts.plan import PLAN_SCHEMA_VERSION
from planner.contracts.probe import PROBE_SCHEMA_VERSION
from planner.contracts.request import REQUEST_SCHEMA_VERSION

Kind = Literal["probe", "plan", "request"]
Document = dict[str, Any]
Migration = Callable[[Document], Document]

CURRENT: dict[Kind, int] = {
    "probe": PROBE_SCHEMA_VERSION,
    "plan": PLAN_SCHEMA_VERSION,
    "request": REQUEST_SCHEMA_VERSION,
}



def _fields_added(doc: Document) -> Document:
    """Only fields with defaults were added: a version-1 document reads as it is.
    probe 2: DeviceInfo.tf32_matmul / tf32_cudnn (not recorded before: None).
    plan 2: each LrChoice number's rule and warnings, Candidate.precision (None: the request's),
    Candidate.hours_range / cost_range / data_ratio (None: not computed), meets_data (True),
    StatisticalEfficiency.b_noise_range (None).
    request 2: precision "fp16", tf32_matmul (False: torch's default), target_loss, max_samples,
    max_epochs (None: no target, no cap); a workload's dataset_size may stand without epochs.
    probe 4: ModelInfo / TracedMode.attention_flops_per_sample (None: not counted).
    probe 5: ModelTrace.linears (None: not recorded; a LoRA plan asks for a new trace).
    plan 3 / request 3: PlanRequest.trainable ("full": every parameter, as before), Plan.trainable
    (None: planned before it, every parameter trained).
    request 3: max_nodes (a request states limits: a version-2 one gets the new limit's default),
    gpus (None: every GPU).
    plan 3: Candidate.nodes / ScalingRow.nodes (1), total_gpus (None: gpu_count), fabric (None),
    comm_inter_node_bytes (0), Exclusion.nodes ([]: the whole offer); see _plan_2_to_3 for its request."""
    return dict(doc)


def _plan_2_to_3(doc: Document) -> Document:
    """plan 3: the request inside a version-2 plan was planned on one node, so its max_nodes is 1
    (what made that plan's candidates); the other new fields have defaults."""
    request = doc.get("request")
    if not isinstance(request, dict):
        return dict(doc)
    return doc | {"request": request | {"max_nodes": request.get("max_nodes", 1), "schema_version": 3}}


def _probe_2_to_3(doc: Document) -> Document:
    """probe 3 adds `interrupted`; before it a report said so only in its stop reason."""
    return doc | {"interrupted": doc.get("stop_reason") in ("interrupted", "cancelled")}


# kind -> {version v: the function that turns a version-v document into a version v+1 one}
MIGRATIONS: dict[Kind, dict[int, Migration]] = {
    "probe": {1: _fields_added, 2: _probe_2_to_3, 3: _fields_added, 4: _fields_added},
    "plan": {1: _fields_added, 2: _plan_2_to_3},
    "request": {1: _fields_added, 2: _fields_added},
}

# A request file written by hand may leave the version out: it means the first one.
IMPLICIT_VERSION: dict[Kind, int | None] = {"probe": None, "plan": None, "request": 1}


class SchemaVersionError(ValueError):
    """The document's schema_version is missing, not a whole number, or newer than this batchfit."""


def upgrade(kind: Kind, data: Document, *, current: int | None = None,
            migrations: dict[int, Migration] | None = None) -> Document:
    """`data` brought to the current schema version (a new dict; `data` is left as it is).
    current / migrations default to this batchfit's own (tests pass their own chains)."""
    target = CURRENT[kind] if current is None else current
    steps = MIGRATIONS[kind] if migrations is None else migrations
    version = data.get("schema_version", IMPLICIT_VERSION[kind])
    if version is None:
        raise SchemaVersionError("has no schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise SchemaVersionError(f"has schema_version {version!r}, which is not a whole number")
    if version > target:
        raise SchemaVersionError(f"has {kind} schema_version {version}, newer than this batchfit reads "
                                 f"({target}); upgrade batchfit")
    if version < 1:
        raise SchemaVersionError(f"has {kind} schema_version {version}; versions start at 1")
    doc = dict(data)
    while version < target:
        if version not in steps:
            raise SchemaVersionError(f"has {kind} schema_version {version} and no migration from it exists")
        doc = steps[version](doc)
        version += 1
        doc["schema_version"] = version
    return doc

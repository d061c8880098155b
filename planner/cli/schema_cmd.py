"""`batchfit schema plan|probe|request`: the JSON Schema of each document batchfit reads or writes."""

from __future__ import annotations

import argparse
import json

from pydantic import BaseModel

from planner.contracts import Plan, PlanRequest, ProbeReport

DOCUMENTS: dict[str, type[BaseModel]] = {"plan": Plan, "probe": ProbeReport, "request": PlanRequest}


def run(args: argparse.Namespace) -> int:
    print(json.dumps(DOCUMENTS[args.document].model_json_schema(), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of a plan, probe report or request")
    p.add_argument("document", choices=sorted(DOCUMENTS))
    p.set_defaults(run=run)

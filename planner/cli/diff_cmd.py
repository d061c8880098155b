"""`batchfit diff old-plan.json new-plan.json`: what changed between two plans, for a pull-request comment.

Markdown by default (post it as the comment), `--format json` for scripts. Exit code 0, or 3
when the new plan recommends nothing within its limits (a budget or deadline breach), so CI can
fail on it; 2 for a missing or malformed plan.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from planner.errors import EXIT_NOTHING_FITS
from planner.plan_diff import diff_plans, render_markdown, to_json
from planner.plan_file import load_plan


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="compare two saved plans (recommendation, hours, dollars, and why)",
                       description="Compare two plans written by `batchfit plan --json`.")
    p.add_argument("old", metavar="OLD_PLAN", help="the plan before the change (JSON)")
    p.add_argument("new", metavar="NEW_PLAN", help="the plan after the change (JSON)")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    old, new = load_plan(Path(args.old)), load_plan(Path(args.new))
    result = diff_plans(old, new)
    if args.format == "json":
        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        sys.stdout.write(render_markdown(result))
    return 0 if new.recommendation is not None else EXIT_NOTHING_FITS

"""`batchfit plan`: probe (or load a saved probe), price every candidate, print the plan.

`--from-probe FILE` plans without torch or triton: the CI path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.cli.emit_cmd import add_emit_arguments, check_emit, emit
from planner.cli.flags import add_flags, flag_error, flag_names, given
from planner.contracts.plan import Plan
from planner.contracts.probe import ProbeReport
from planner.contracts.probe_config import ProbeConfig
from planner.contracts.request import PlanRequest, ReferenceRun, Workload
from planner.errors import EXIT_NOTHING_FITS, BadInput
from planner.plan.build import build_plan
from planner.view import render_markdown, render_table
from planner.report_file import load_probe_report
from planner.contracts.settings import flags_of
from planner.request_file import load_request
from providers.catalog import load_catalog

DEFAULT_REFERENCE = ReferenceRun(batch_size=32, lr=3e-4, optimizer="adamw")
REQUEST_FLAGS = flag_names(PlanRequest, Workload, ReferenceRun)


def _workload(args: argparse.Namespace, base: Workload | None) -> Workload:
    given_here = given(args, Workload)
    if not given_here:
        if base is None:
            raise BadInput("no workload: give --samples N, --tokens N, or --epochs E with --dataset-size N")
        return base
    try:
        return Workload.model_validate(given_here)
    except ValidationError as exc:
        raise BadInput(f"workload: {exc.errors()[0]['msg'].removeprefix('Value error, ')}; "
                       "give --samples, --tokens, or --epochs with --dataset-size") from None


def _reference(args: argparse.Namespace, base: ReferenceRun | None) -> tuple[dict[str, Any], str | None]:
    """The reference run's fields: the request file's (or the default's), then the flags given."""
    given_here = given(args, ReferenceRun)
    start = base or DEFAULT_REFERENCE
    warning = None
    if base is None and not {"batch_size", "lr"} <= given_here.keys():
        warning = (f"no reference run given: assumed batch {start.batch_size}, lr {start.lr:g}, {start.optimizer}; "
                   "give --ref-batch and --ref-lr for a retune you can trust")
    return start.model_dump() | given_here, warning


def request_from_args(args: argparse.Namespace, model_id: str, precision: str,
                      base: PlanRequest | None) -> tuple[PlanRequest, list[str]]:
    """`base` (the request file, if any) overridden by the flags given; without a file the model is
    `model_id` and the precision defaults to `precision` (the probe's)."""
    reference, warning = _reference(args, base.reference if base else None)
    data = base.model_dump() if base else {"model": args.model_config or model_id, "precision": precision}
    data |= given(args, PlanRequest)
    data["workload"] = _workload(args, base.workload if base else None).model_dump()
    data["reference"] = reference
    try:
        return PlanRequest.model_validate(data), [warning] if warning else []
    except ValidationError as exc:
        raise BadInput(f"plan request: {flag_error(exc, REQUEST_FLAGS)}") from None


def _probe_only_flags(args: argparse.Namespace) -> list[str]:
    """Probe settings given with --from-probe, where the saved report's settings hold instead."""
    shared = flag_names(PlanRequest)
    return [spec.flag for name, spec in flags_of(ProbeConfig).items()
            if name not in shared and getattr(args, spec.dest, None) is not None]


def _probe_report(args: argparse.Namespace, base: PlanRequest | None) -> ProbeReport:
    if args.from_probe:
        ignored = _probe_only_flags(args)
        if ignored:
            raise BadInput(f"{', '.join(ignored)} only apply when probing (--model); with --from-probe the "
                           "saved report's settings hold: drop them, or probe again with --model")
        report = load_probe_report(Path(args.from_probe))
        if report.interrupted and not args.allow_partial:
            sizes = ", ".join(str(p.batch_size) for p in report.ok_points()) or "none"
            raise BadInput(f"{args.from_probe} is an interrupted probe (batch sizes measured: {sizes}); "
                           "finish it with `batchfit probe --resume`, or add --allow-partial to plan from it")
        return report
    # Only the --model path needs torch: import the probe here, not at module load.
    from planner.cli.probe_cmd import probe_from_args

    # The noise steps train as the reference run would, unless told otherwise.
    reference_lr = args.ref_lr or (base.reference.lr if base else DEFAULT_REFERENCE.lr)
    reference_batch = args.ref_batch or (base.reference.batch_size if base else None)
    return probe_from_args(args, noise_lr=args.noise_lr or reference_lr, reference_batch=reference_batch,
                           allow_partial=args.allow_partial)


def run(args: argparse.Namespace) -> int:
    if not args.model and not args.from_probe and not args.model_config:
        raise BadInput("nothing to plan: give --model NAME|pkg.mod:factory|hf:ID, --model-config config.json "
                       "or --from-probe report.json")
    launch = check_emit(args)
    catalog = load_catalog(user_csv=Path(args.prices) if args.prices else None)
    base = load_request(Path(args.request)) if args.request else None  # a bad file fails before a long probe
    if not args.from_probe:  # so do bad request flags (the probe's precision stood in by the request's default)
        request_from_args(args, args.model or args.model_config, PlanRequest.model_fields["precision"].default, base)
    report = _probe_report(args, base)
    request, warnings = request_from_args(args, report.model.id, report.settings.precision, base)
    if report.interrupted:
        warnings.append(f"planned from an interrupted probe: only batch sizes "
                        f"{', '.join(str(p.batch_size) for p in report.ok_points())} were measured")
    plan = build_plan(request, report, catalog)
    plan = Plan.model_validate(plan.model_dump() | {"warnings": warnings + plan.warnings})
    fmt = "json" if args.json else args.format
    if fmt == "json":
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        sys.stdout.write(render_table(plan))
    if launch is not None:
        if plan.recommendation is None:
            sys.stderr.write("batchfit: nothing to --emit: the plan recommends nothing within the limits\n")
        else:
            emit(plan, *launch, args.train_cmd, json_stdout=fmt == "json")
    return 0 if plan.recommendation else EXIT_NOTHING_FITS


def register(sub: argparse._SubParsersAction) -> None:
    from planner.cli.probe_cmd import add_probe_arguments

    p = sub.add_parser("plan", help="recommend batch size, instance and learning rate by time and cost")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--from-probe", metavar="FILE", help="plan from a saved probe report (no torch needed)")
    add_probe_arguments(p, model_group=source)
    p.add_argument("--request", metavar="FILE", help="a saved plan request (.toml or .json); flags override it")
    for model in (PlanRequest, Workload, ReferenceRun):
        add_flags(p, model)
    p.add_argument("--allow-partial", action="store_true",
                   help="plan from an interrupted probe (Ctrl-C, SIGTERM) instead of refusing it")
    p.add_argument("--prices", metavar="CSV", help="your own offers, merged over the bundled table")
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    p.add_argument("--json", action="store_true", help="print only the plan JSON on stdout")
    add_emit_arguments(p)
    p.set_defaults(run=run)

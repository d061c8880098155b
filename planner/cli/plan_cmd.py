"""`batchfit plan`: probe (or load a saved probe), price every candidate, print the plan.

`--from-probe FILE` plans without torch or triton: the CI path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from planner.cli.arg_types import comma_list, positive
from planner.cli.emit_cmd import add_emit_arguments, check_emit, emit
from planner.contracts.probe import ProbeReport
from planner.contracts.request import PlanRequest, ReferenceRun, Workload
from planner.errors import EXIT_NOTHING_FITS, BadInput
from planner.plan.build import build_plan
from planner.view import render_markdown, render_table
from planner.report_file import load_probe_report
from planner.request_file import first_error, load_request
from providers.catalog import load_catalog

DEFAULT_REFERENCE = ReferenceRun(batch_size=32, lr=3e-4, optimizer="adamw")


def _workload(args: argparse.Namespace, base: Workload | None) -> Workload:
    given = {k: getattr(args, k) for k in ("samples", "tokens", "epochs", "dataset_size") if getattr(args, k) is not None}
    if not given:
        if base is None:
            raise BadInput("no workload: give --samples N, --tokens N, or --epochs E with --dataset-size N")
        return base
    try:
        return Workload(**given)
    except ValidationError as exc:
        raise BadInput(f"workload: {exc.errors()[0]['msg']}; give --samples, --tokens, or --epochs with --dataset-size") from None


def _reference(args: argparse.Namespace, base: ReferenceRun | None) -> tuple[ReferenceRun, str | None]:
    fields = {"batch_size": args.ref_batch, "lr": args.ref_lr, "optimizer": args.optimizer,
              "warmup_steps": args.warmup_steps, "weight_decay": args.weight_decay}
    given = {k: v for k, v in fields.items() if v is not None}
    start = base or DEFAULT_REFERENCE
    warning = None
    if base is None and not {"batch_size", "lr"} <= given.keys():
        warning = (f"no reference run given: assumed batch {start.batch_size}, lr {start.lr:g}, {start.optimizer}; "
                   "give --ref-batch and --ref-lr for a retune you can trust")
    return start.model_copy(update=given), warning


def request_from_args(args: argparse.Namespace, report: ProbeReport,
                      base: PlanRequest | None) -> tuple[PlanRequest, list[str]]:
    """`base` (the request file, if any) overridden by the flags given; precision defaults to the probe's."""
    reference, warning = _reference(args, base.reference if base else None)
    update = {
        "model": args.model or (base.model if base else report.model.id),
        "precision": base.precision if base else report.settings.precision,
        "workload": _workload(args, base.workload if base else None),
        "reference": reference,
    }
    for field, value in (("budget_usd", args.budget), ("deadline_hours", args.deadline), ("precision", args.precision),
                         ("spot", args.spot), ("max_gpus", args.max_gpus), ("providers", args.providers),
                         ("regions", args.regions), ("noise_scale", args.noise_scale)):
        if value is not None:
            update[field] = value
    try:
        data = (base.model_dump() if base else {}) | update
        return PlanRequest.model_validate(data), [warning] if warning else []
    except ValidationError as exc:
        raise BadInput(f"plan request: {first_error(exc)}") from None


def _probe_report(args: argparse.Namespace, base: PlanRequest | None) -> ProbeReport:
    if args.from_probe:
        return load_probe_report(Path(args.from_probe))
    # Only the --model path needs torch: import the probe here, not at module load.
    from planner.cli.probe_cmd import probe_from_args

    # The noise steps train as the reference run would, unless told otherwise.
    reference_lr = args.ref_lr or (base.reference.lr if base else DEFAULT_REFERENCE.lr)
    reference_batch = args.ref_batch or (base.reference.batch_size if base else None)
    return probe_from_args(args, noise_lr=args.noise_lr or reference_lr, reference_batch=reference_batch)


def run(args: argparse.Namespace) -> int:
    if not args.model and not args.from_probe:
        raise BadInput("nothing to plan: give --model NAME|pkg.mod:factory or --from-probe report.json")
    launch = check_emit(args)
    catalog = load_catalog(user_csv=Path(args.prices) if args.prices else None)
    base = load_request(Path(args.request)) if args.request else None  # a bad file fails before a long probe
    report = _probe_report(args, base)
    request, warnings = request_from_args(args, report, base)
    plan = build_plan(request, report, catalog)
    plan = plan.model_copy(update={"warnings": warnings + plan.warnings})
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
    p.add_argument("--samples", type=positive(int, "--samples"), help="samples the reference run trains on")
    p.add_argument("--tokens", type=positive(int, "--tokens"), help="tokens the reference run trains on")
    p.add_argument("--epochs", type=positive(float, "--epochs"), help="epochs over --dataset-size samples")
    p.add_argument("--dataset-size", type=positive(int, "--dataset-size"), help="samples per epoch")
    p.add_argument("--ref-batch", type=positive(int, "--ref-batch"), help="the reference run's global batch")
    p.add_argument("--ref-lr", type=positive(float, "--ref-lr"), help="the reference run's learning rate")
    p.add_argument("--optimizer", choices=["adamw", "adam", "sgd"], default=None)
    p.add_argument("--warmup-steps", type=int, default=None, help="the reference run's warmup steps")
    p.add_argument("--weight-decay", type=float, default=None, help="the reference run's weight decay")
    p.add_argument("--noise-scale", type=positive(float, "--noise-scale"), default=None, metavar="B_NOISE",
                   help="gradient noise scale measured near your target loss (samples); overrides the probe's")
    p.add_argument("--budget", type=positive(float, "--budget"), help="USD")
    p.add_argument("--deadline", type=positive(float, "--deadline"), help="hours")
    p.add_argument("--spot", action=argparse.BooleanOptionalAction, default=None, help="allow spot offers")
    p.add_argument("--providers", type=comma_list, help="comma list, e.g. aws,gcp,azure,lambda")
    p.add_argument("--regions", type=comma_list, help="comma list of provider regions")
    p.add_argument("--max-gpus", type=positive(int, "--max-gpus"), default=None, help="GPUs per instance at most")
    p.add_argument("--prices", metavar="CSV", help="your own offers, merged over the bundled table")
    p.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    p.add_argument("--json", action="store_true", help="print only the plan JSON on stdout")
    add_emit_arguments(p)
    p.set_defaults(run=run)

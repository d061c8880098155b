"""`batchfit plan ... --emit skypilot FILE | --emit torchrun [FILE]`: the recommendation as a launch.

`skypilot` writes a SkyPilot task file; `torchrun` prints the launch line (to stdout after a
table or markdown plan, to stderr beside `--json` so stdout stays JSON) or writes it to FILE.
`--train-cmd` names the user's script and its arguments; batchfit's settings reach it as
`BATCHFIT_*` environment variables. Torch-free: the `--from-probe` path stays so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planner.contracts.plan import Plan
from planner.errors import BadInput
from planner.launch.settings import launch_from_plan
from planner.launch.skypilot import skypilot_task, task_name
from planner.launch.torchrun import torchrun_line
from planner.launch.yaml_text import dump

KINDS = ("skypilot", "torchrun")


def add_emit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--emit", nargs="+", metavar=("KIND", "FILE"),
                   help="write the recommendation as a launch: `skypilot task.yaml` or `torchrun [FILE]`")
    p.add_argument("--train-cmd", metavar="CMD",
                   help="your training script and its arguments, e.g. 'train.py --config c.yaml' (with --emit)")


def check_emit(args: argparse.Namespace) -> tuple[str, Path | None] | None:
    """The parsed --emit request, checked before any probing; None when not asked for."""
    if not args.emit:
        if args.train_cmd:
            raise BadInput("--train-cmd is used only with --emit skypilot FILE or --emit torchrun")
        return None
    kind, *rest = args.emit
    if kind not in KINDS or len(rest) > 1:
        raise BadInput(f"--emit takes KIND [FILE] with KIND one of {', '.join(KINDS)}; got {' '.join(args.emit)!r}")
    if kind == "skypilot" and not rest:
        raise BadInput("--emit skypilot needs a file to write, e.g. --emit skypilot task.yaml")
    if not args.train_cmd or not args.train_cmd.strip():
        raise BadInput("--emit needs --train-cmd: the script torchrun starts, e.g. --train-cmd 'train.py --data d/'")
    return kind, Path(rest[0]) if rest else None


def emit(plan: Plan, kind: str, target: Path | None, train_cmd: str, *, json_stdout: bool) -> None:
    launch = launch_from_plan(plan)
    if kind == "skypilot":
        text = dump(skypilot_task(launch, train_cmd.strip(), task_name(plan.probe.model_id)))
    else:
        text = torchrun_line(launch, train_cmd.strip()) + "\n"
    if target is None:
        (sys.stderr if json_stdout else sys.stdout).write(text)
        return
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"--emit {kind}: cannot write {target} ({exc.strerror}); give a writable path") from None
    nodes = launch.num_nodes
    note = f" ({nodes} node{'s' if nodes > 1 else ''})" if kind == "skypilot" else ""
    sys.stderr.write(f"batchfit: wrote the {kind} launch for candidate {launch.candidate.id} to {target}{note}\n")

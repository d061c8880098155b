"""A check against reality on a CPU: do the steps S(B) batchfit predicts match real training?

    .venv/bin/python bench/truth.py           # full run, ~25 min on one core: bench/results/truth-cpu.{json,md}
    .venv/bin/python bench/truth.py --quick   # ~1 min: a reduced run, prints its table, writes nothing

The `mlp` preset (next byte of Python stdlib source from the 4 before it, ~0.92M parameters)
trains with AdamW at a constant learning rate until its held-out loss crosses a target L*:
1. reference: batch B0, lr0 the best of a small sweep (by steps to L*), every seed; N0 = B0 x mean steps.
2. noise scale: B_simple with the project's estimator (planner.probe.noise) on the reference
   runs' checkpoints around the L* crossing; also at a ladder of earlier losses, to show its drift.
3. every other batch B, every seed: from the same init, AdamW as planner.plan.lr.retune(reference, B,
   B_simple) sets it (lr, betas, eps), trained to L*.
4. measured steps against SampleModel(B0, N0, B_simple).steps(B) and the samples-fixed N0/B, and
   B_crit fitted to the measured steps, S(B) = S_min (1 + B_crit / B).
5. at the largest batch, first seed: lr x0.5, lr x2 and the reference's beta1, to see whether the
   retune left steps on the table.
The full run does all this at L* = 1.7 (late in training) and again at L* = 2.1 (early).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from truth_lib.data import eval_batch, make_bundle, split_corpus
from truth_lib.noise import NoiseSettings, describe, noise_at
from truth_lib.report import BatchRow, LadderPoint, Outcome, table, write_results
from truth_lib.train import OptSettings, Run, train_to_target

from planner.contracts.request import ReferenceRun
from planner.plan.efficiency import SampleModel
from planner.plan.lr import ADAM_DEFAULT_BETAS, ADAM_DEFAULT_EPS, retune

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Settings:
    target: float  # held-out loss, nats per byte
    reference_batch: int
    lr_sweep: tuple[float, ...]  # candidate lr0 at the reference batch; the fewest steps to the target wins
    batches: tuple[int, ...]  # every batch size run, the reference's included
    seeds: tuple[int, ...]
    noise: NoiseSettings  # pooled over the reference runs' checkpoints around the crossing
    ladder: tuple[float, ...]  # earlier loss levels where B_simple is also read (seed 0's reference run)
    ladder_noise: NoiseSettings
    eval_samples: int
    max_step_factor: float  # a run stops unreached after this many times max(predicted, naive) steps
    lr_check: bool  # also run the largest batch (first seed) at lr x0.5, lr x2 and the reference's beta1


MAIN = Settings(
    # L* = 1.7: the reference needs ~4,500 steps and the loss still falls ~0.03 nats per 10% more
    # steps there, so the crossing is sharp; B_noise near it (~2,000) can be straddled on a CPU.
    target=1.7, reference_batch=32, lr_sweep=(1e-3, 2e-3, 4e-3), batches=(8, 32, 128, 512, 2048, 8192),
    seeds=(0, 1, 2), noise=NoiseSettings(b_small=32, micro_batches=16, steps=300), ladder=(2.4, 2.1, 1.9),
    ladder_noise=NoiseSettings(b_small=32, micro_batches=16, steps=100), eval_samples=4096, max_step_factor=5.0,
    lr_check=True,
)
# The same bench early in training, where the loss still falls fast and B_noise is smaller.
EARLY = replace(MAIN, target=2.1, ladder=())
# A check that the pipeline runs, not a result: one seed, lr0 not swept, an early target.
QUICK = Settings(
    target=2.1, reference_batch=32, lr_sweep=(2e-3,), batches=(8, 32, 512, 4096), seeds=(0,),
    noise=NoiseSettings(b_small=32, micro_batches=8, steps=100), ladder=(),
    ladder_noise=NoiseSettings(b_small=32, micro_batches=8, steps=50), eval_samples=2048, max_step_factor=5.0,
    lr_check=False,
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def mean_steps(runs: list[Run]) -> float | None:
    steps = [r.steps_to_target for r in runs]
    return None if any(s is None for s in steps) else statistics.fmean(steps)  # type: ignore[arg-type]


def run_bench(s: Settings) -> Outcome:
    began = time.perf_counter()
    train, held_out = split_corpus()
    eval_set = eval_batch(held_out, s.eval_samples)
    b0 = s.reference_batch

    def adamw(lr: float) -> ReferenceRun:
        return ReferenceRun(batch_size=b0, lr=lr, optimizer="adamw", betas=ADAM_DEFAULT_BETAS, eps=ADAM_DEFAULT_EPS,
                            weight_decay=0.0)  # no decay: the 4-byte MLP cannot overfit 10 MB of text

    def train_at(batch: int, seed: int, opt: OptSettings, max_steps: int, reference: bool = False) -> Run:
        run = train_to_target(make_bundle(train, seed), batch, seed, opt, s.target, eval_set, max_steps,
                              checkpoint_levels=s.ladder if reference and seed == s.seeds[0] else (),
                              keep_near_target=reference)
        reached = "not reached" if run.steps_to_target is None else f"{run.steps_to_target:,.0f} steps"
        say(f"  B={batch} seed={seed} lr={opt.lr:.3g}: {reached} ({run.wall_s:.0f} s)")
        return run

    # 1. The reference: lr0 by a small sweep on the first seed, then the other seeds at lr0.
    reference_max = 50_000  # ~6 min at B0 on one core: an lr that needs more has lost the sweep
    sweep: dict[float, Run] = {}
    say(f"reference B0={b0}, lr sweep {s.lr_sweep} to L*={s.target}")
    for lr in s.lr_sweep:
        opt = OptSettings.from_choice(retune(adamw(lr), b0, None))
        sweep[lr] = train_at(b0, s.seeds[0], opt, reference_max, reference=True)
    reached = {lr: run for lr, run in sweep.items() if run.steps_to_target is not None}
    if not reached:
        raise SystemExit(f"no lr of {s.lr_sweep} reached L*={s.target} within {reference_max} steps at B0={b0}")
    lr0 = min(reached, key=lambda lr: reached[lr].steps_to_target)  # type: ignore[arg-type,return-value]
    reference = adamw(lr0)
    ref_opt = OptSettings.from_choice(retune(reference, b0, None))
    ref_runs = [sweep[lr0]] + [train_at(b0, seed, ref_opt, reference_max, reference=True) for seed in s.seeds[1:]]
    ref_steps = mean_steps(ref_runs)
    if ref_steps is None:
        raise SystemExit(f"a reference seed missed L*={s.target} at lr0={lr0}: the target is too close to the floor")
    n0 = ref_steps * b0

    # 2. The noise scale around the crossing (every seed's checkpoints pooled), and its drift before.
    states = [state for run in ref_runs for state in run.states_in_window().values()]
    say(f"noise scale at L*: {len(states)} checkpoints, {s.noise.steps} frozen steps of "
        f"B_big={s.noise.b_small * s.noise.micro_batches}")
    outcome = noise_at(train, states, s.noise)
    if outcome.noise_scale is None:
        raise SystemExit("noise scale not resolved at L*: " + "; ".join(outcome.warnings))
    b_noise = outcome.noise_scale
    say(f"  {describe(b_noise)}")
    ladder = []
    for level, state in sweep[lr0].checkpoints.items():
        point = noise_at(train, [state], s.ladder_noise).noise_scale
        step = next(st for st, loss in zip(sweep[lr0].eval_steps, sweep[lr0].eval_losses) if loss <= level)
        ladder.append(LadderPoint(loss=level, step=step, noise_scale=point))
        say(f"  at loss {level} (step {step}): {describe(point) if point else 'not resolved'}")

    # 3. Every other batch size at its retuned settings, against the predictions.
    model = SampleModel(b0, n0, b_noise.b_simple)
    naive = SampleModel(b0, n0, None)
    rows = []
    for batch in s.batches:
        choice = retune(reference, batch, b_noise.b_simple)
        cap = int(s.max_step_factor * max(model.steps(batch), naive.steps(batch)))
        runs = ref_runs if batch == b0 else [train_at(batch, seed, OptSettings.from_choice(choice), cap)
                                             for seed in s.seeds]
        rows.append(BatchRow.from_runs(batch, choice, runs, model, naive, b_noise, cap))

    # 4. Was the retuned lr (and the SDE rule's beta1) the best choice where the model leans on it most?
    lr_check: dict[str, float | None] = {}
    if s.lr_check:
        top = rows[-1]
        retuned = OptSettings.from_choice(top.choice)
        beta1 = reference.betas[0] if reference.betas else ADAM_DEFAULT_BETAS[0]
        variants = {"lr x0.5": replace(retuned, lr=retuned.lr / 2), "lr x2": replace(retuned, lr=retuned.lr * 2),
                    f"beta1 {beta1} (not scaled)": replace(retuned, betas=(beta1, retuned.betas[1]))}
        say(f"lr check at B={top.batch}, seed {s.seeds[0]}: {', '.join(variants)}")
        lr_check = {name: train_at(top.batch, s.seeds[0], opt, top.cap_steps).steps_to_target
                    for name, opt in variants.items()}
    return Outcome(target=s.target, reference=reference, lr_sweep={lr: r.steps_to_target for lr, r in sweep.items()},
                   reference_steps=[r.steps_to_target for r in ref_runs], n0=n0, noise_scale=b_noise,
                   noise_checkpoints=len(states), ladder=ladder, rows=rows, lr_check=lr_check, seeds=list(s.seeds),
                   settings=asdict(s), train_data=train.description, eval_data=held_out.description,
                   runtime_s=time.perf_counter() - began, threads=torch.get_num_threads())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced run (~1 min): prints its table, writes nothing")
    # One thread by default: with two, any other process on the 2-core machine stalls every op at
    # the thread barrier (measured: a B=8 step 14 ms -> 143 ms); steps to L* do not depend on it.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help=f"write truth-cpu.json/.md here (default: {RESULTS} for the full run, none for --quick)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    outcomes = []
    for settings in (QUICK,) if args.quick else (MAIN, EARLY):
        outcomes.append(run_bench(settings))
        print(table(outcomes[-1]) + "\n", flush=True)
    out_dir = args.out_dir or (None if args.quick else RESULTS)
    if out_dir is not None:
        command = "python bench/truth.py" + (" --quick" if args.quick else "") + f" --threads {args.threads}"
        for path in write_results(outcomes, out_dir, command):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a probe run is: its phase (sweep, DDP, noise training, noise measurement) and that phase's progress.

The sweep's events carry a fraction for the sweep alone; the phases after it only say lines of
text ("noise scale: step 40/200 ..."), so the steps are read from those lines. Each phase gets
its own bar and its own ETA (seconds left at the pace the phase has had so far).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from planner.contracts.probe import ProbePoint, ProbeReport
from planner.contracts.probe_config import ProbeEvent

STEP = re.compile(r"noise scale: (?:step|trained) (\d+)/(\d+)")
UNSTABLE_IQR = 0.10
"""(q75 - q25) / median of the timed steps above this: the timings are not to be trusted (other load)."""
UNSTABLE_RANGE = 0.25
"""The same from (slowest - fastest) / median, for reports from before the sweep kept the quartiles."""


@dataclass
class Phase:
    name: str
    fraction: float
    started_s: float
    eta_s: float | None = None

    def status(self) -> str:
        eta = f", about {self.eta_s:.0f} s left" if self.eta_s is not None else ""
        return f"{self.name} · {self.fraction:.0%}{eta}"


def next_phase(phase: Phase, event: ProbeEvent) -> Phase:
    """The phase after `event`: the sweep's own fraction until the sweep's messages give way to the noise lines."""
    text = event.text
    if event.kind == "done":
        return Phase("done", 1.0, event.elapsed_s)
    if event.kind in ("point-started", "point-done", "oom") and phase.name.startswith("sweep"):
        name = f"sweep, batch {event.batch_size}" if event.batch_size is not None else "sweep"
        return Phase(name, event.fraction_done, phase.started_s, event.eta_s)
    if event.kind != "message":
        return phase
    if text.startswith("DDP probe"):
        return Phase("DDP probe", 0.5 if "all-reduce" not in text else 1.0, _start(phase, "DDP", event))
    if text.startswith("noise scale: training"):
        return Phase("noise scale: training", 0.0, event.elapsed_s)
    if text.startswith("noise scale:") and "training steps of B_big" in text:
        return Phase("noise scale: measuring", 0.0, event.elapsed_s)
    match = STEP.match(text)
    if match and phase.name.startswith("noise scale"):
        done, total = int(match.group(1)), int(match.group(2))
        fraction = done / total if total else 1.0
        spent = event.elapsed_s - phase.started_s
        eta = spent * (1 - fraction) / fraction if fraction > 0 else None
        return Phase(phase.name, fraction, phase.started_s, eta)
    return phase


def _start(phase: Phase, prefix: str, event: ProbeEvent) -> float:
    return phase.started_s if phase.name.startswith(prefix) else event.elapsed_s


def spread(point: ProbePoint) -> tuple[float, float] | None:
    """The point's relative dispersion and the threshold it is held to."""
    if point.step_time_spread is not None:
        return point.step_time_spread, UNSTABLE_IQR
    if point.step_time_s and point.step_time_min_s is not None and point.step_time_max_s is not None:
        return (point.step_time_max_s - point.step_time_min_s) / point.step_time_s, UNSTABLE_RANGE
    return None


def unstable_points(points: list[ProbePoint]) -> list[tuple[int, float]]:
    """(batch, relative dispersion) of the measured points whose timed steps disagree more than they should."""
    out = []
    for p in points:
        s = spread(p)
        if p.status == "ok" and s is not None and s[0] > s[1]:
            out.append((p.batch_size, s[0]))
    return out


def result_lines(report: ProbeReport) -> list[tuple[str, str]]:
    """The run's result as (label, value): what the plan takes from it."""
    best = report.best_point()
    ok = report.ok_points()
    throughput = (f"{best.samples_per_s:,.1f} samples/s at batch {best.batch_size}"
                  if best is not None and best.samples_per_s else "no point measured")
    lines = [("best throughput", throughput)]
    largest = max((p.batch_size for p in ok), default=None)
    fits = f", fits up to {report.recommended_max_batch}" if report.recommended_max_batch else ""
    lines.append(("largest batch", f"{largest} measured{fits}" if largest else "none"))
    fit = report.memory_fit
    memory = (f"{fit.static_bytes / 1e9:.2f} GB + {fit.per_sample_bytes / 1e6:,.1f} MB × B "
              f"({fit.points_used} points, ±{fit.max_relative_residual:.0%})" if fit else "not fitted")
    lines.append(("memory fit", memory))
    ns = report.noise_scale
    if ns is None:
        lines.append(("noise scale", "not measured (Noise steps 0, or cancelled)"))
    else:
        loss = f", at loss {ns.train_loss:.3g}" if ns.train_loss is not None else ""
        band = f"band {ns.low:,.3g}–{ns.high:,.3g}" if ns.low is not None and ns.high is not None else \
            "no band: too few measured steps"
        read = f"{ns.b_simple:,.3g} ({band}){loss}, {ns.trained_steps} steps trained first"
        lines.append(("noise scale", read))
    return lines

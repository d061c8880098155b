"""The report validator: a probe report whose figures contradict each other is refused, not planned.

Every reader runs it (plan --from-probe, quotes --probe, the TUI, a resumed point log); a report
batchfit writes always passes. The schema already refuses NaN, inf, unknown keys and missing
fields; these are the checks between fields. The first inconsistency is a BadInput naming the
field and the point.
"""

from __future__ import annotations

from planner.contracts.probe import ProbePoint, ProbeReport
from planner.errors import BadInput
from planner.plan.memory import fit_memory

RATE_TOLERANCE = 0.01  # samples/s against batch / step time: both are written from one median
MEMORY_DIP = 0.02  # a peak may dip this much from one batch to the next (allocator noise; H200 BERT: 0.1%)
FIT_TOLERANCE = 0.01  # a stored fit against the one its points give, as a fraction of the largest peak


class InconsistentReport(BadInput):
    """Two figures of a report contradict each other."""


def check_point(point: ProbePoint, where: str) -> None:
    """One point on its own: positive finite times and rates that agree with its batch."""
    at = f"{where}: point batch {point.batch_size}"
    if point.status != "ok":
        return
    if point.step_time_s is None or point.step_time_s <= 0:
        raise InconsistentReport(f"{at}: step_time_s {point.step_time_s} is not a positive time; re-run `batchfit probe`")
    if point.samples_per_s is None or point.samples_per_s <= 0:
        raise InconsistentReport(f"{at}: samples_per_s {point.samples_per_s} is not a positive rate; re-run `batchfit probe`")
    expected = point.batch_size / point.step_time_s
    if abs(point.samples_per_s - expected) > RATE_TOLERANCE * expected:
        raise InconsistentReport(f"{at}: samples_per_s {point.samples_per_s:.6g} disagrees with batch / step_time_s "
                                 f"= {expected:.6g} by more than 1%; the report was edited or corrupted")
    low, high = point.step_time_min_s, point.step_time_max_s
    if low is not None and (low <= 0 or low > point.step_time_s * (1 + 1e-9)):
        raise InconsistentReport(f"{at}: step_time_min_s {low} is not between 0 and the median {point.step_time_s}")
    if high is not None and high < point.step_time_s * (1 - 1e-9):
        raise InconsistentReport(f"{at}: step_time_max_s {high} is below the median {point.step_time_s}")
    for name in ("peak_memory_bytes", "predicted_memory_bytes"):
        value = getattr(point, name)
        if value is not None and value <= 0:
            raise InconsistentReport(f"{at}: {name} {value} is not a positive size")


def _check_memory(report: ProbeReport, where: str) -> None:
    peaks = sorted((p.batch_size, p.peak_memory_bytes) for p in report.ok_points()
                   if p.peak_memory_bytes and p.memory_provenance == "measured")
    for (b0, m0), (b1, m1) in zip(peaks, peaks[1:]):
        if m1 < m0 * (1 - MEMORY_DIP):
            raise InconsistentReport(
                f"{where}: point batch {b1}: peak_memory_bytes {m1} is {1 - m1 / m0:.1%} below batch {b0}'s {m0}; "
                "memory cannot fall as the batch grows: the report was edited or corrupted")
    fit = report.memory_fit
    if fit is None:
        return
    if fit.per_sample_bytes < 0:
        raise InconsistentReport(f"{where}: memory_fit.per_sample_bytes {fit.per_sample_bytes:.6g} is negative; "
                                 "re-run `batchfit probe`")
    if fit.provenance == "traced" and report.trace is None:
        raise InconsistentReport(f"{where}: memory_fit is traced but the report holds no trace; re-run `batchfit probe`")
    if fit.max_relative_residual < 0 or (fit.points_used < 1 and fit.provenance != "traced"):
        raise InconsistentReport(f"{where}: memory_fit has {fit.points_used} points and residual "
                                 f"{fit.max_relative_residual}; re-run `batchfit probe`")
    refit = fit_memory(report.points)
    if fit.provenance == "fitted" and refit is not None and refit.provenance == "fitted" and peaks:
        largest = peaks[-1][0]
        scale = max(m for _, m in peaks)
        if abs(refit.bytes_at(largest) - fit.bytes_at(largest)) > FIT_TOLERANCE * scale:
            raise InconsistentReport(
                f"{where}: memory_fit gives {fit.bytes_at(largest):.4g} bytes at batch {largest}, its points give "
                f"{refit.bytes_at(largest):.4g}; the report was edited or corrupted")


def check_report(report: ProbeReport, where: str) -> ProbeReport:
    """`report` if its figures agree with each other; else InconsistentReport naming the first that does not."""
    if report.model.params <= 0:
        raise InconsistentReport(f"{where}: model.params {report.model.params} is not positive")
    flops = report.model.flops_per_sample
    if flops is not None and flops <= 0:
        raise InconsistentReport(f"{where}: model.flops_per_sample {flops} is not positive; re-run `batchfit probe`")
    if report.device.memory_bytes is not None and report.device.memory_bytes <= 0:
        raise InconsistentReport(f"{where}: device.memory_bytes {report.device.memory_bytes} is not positive")
    for point in report.points:
        check_point(point, where)
    _check_memory(report, where)
    ok = {p.batch_size for p in report.ok_points()}
    if report.recommended_max_batch is not None and report.recommended_max_batch not in ok:
        raise InconsistentReport(f"{where}: recommended_max_batch {report.recommended_max_batch} is not a batch "
                                 "that ran ok; re-run `batchfit probe`")
    return report

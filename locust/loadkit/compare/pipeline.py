"""Each comparison reads once, computes, and writes once: a run against its baseline
(``compare_runs``), a run's history (``history_of``), a run's estimates alone
(``estimates_of``). What the store computed while reading (estimates of runs that had none
kept) is kept in the same write as the result."""

from __future__ import annotations

from loadkit.core.defaults import ALPHA
from loadkit.core.records import BASELINE, Endpoint, RunInfo, side_of
from loadkit.report import comparison as report
from loadkit.stats import duet, history, pair
from loadkit.stats.comparison import Comparison
from loadkit.stats.estimates import RunEstimates
from loadkit.stats.history import History
from loadkit.store import gather
from loadkit.store.base import ResultsStore


def compare_runs(
    store: ResultsStore,
    current_label: str,
    baseline_label: str,
    alpha: float = ALPHA,
    min_change: dict[str, float] | None = None,
    keep_verdict: bool = False,
) -> Comparison:
    """``baseline_label`` may be "previous" (the last earlier run comparable to this one)
    or "history" (the comparable runs since the last change point, up to 10, per endpoint).
    ``min_change`` None: the default thresholds, or none where history measures the
    run-to-run noise (it is in the interval); given: the user's floor in both cases.
    ``keep_verdict``: the verdict is stored with the run too, as the reports render it.
    Either label may name a duet's candidate side, "LABEL:candidate"."""
    inputs = gather.comparison_inputs(store, current_label, baseline_label)
    comparison = pair.judge(inputs, alpha, min_change)
    kept = list(inputs.estimated)
    # A candidate side's estimates are not its run's (those are the baseline side's).
    if comparison.history is not None and side_of(current_label)[1] == BASELINE:
        current = comparison.current
        kept.append((current, comparison.history.estimates[current.label]))
    store.save(kept, report.verdict_record(comparison) if keep_verdict else None)
    return comparison


def compare_duet_run(
    store: ResultsStore,
    label: str,
    alpha: float = ALPHA,
    min_change: dict[str, float] | None = None,
    keep_verdict: bool = False,
) -> Comparison:
    """A duet run's candidate side against its baseline side, paired in time."""
    comparison = duet.judge(gather.duet_inputs(store, label), alpha, min_change)
    if keep_verdict:
        store.save([], report.verdict_record(comparison))
    return comparison


def history_of(
    store: ResultsStore,
    current_label: str | None,
    since: str | None = None,
    last: int | None = None,
    floor: dict[str, float] | None = None,
) -> tuple[RunInfo, History]:
    """The run labelled ``current_label`` (None: the newest) and the history of its
    comparable runs, from ``since`` on, the newest ``last`` of them."""
    inputs = gather.history_inputs(store, current_label, since, last)
    found = history.build(inputs.runs, inputs.per_run, floor)
    store.save(inputs.estimated)
    return inputs.current, found


def estimates_of(store: ResultsStore, run: RunInfo) -> dict[Endpoint, RunEstimates]:
    """The run's estimates: kept, or computed from its timings and kept."""
    (found,), estimated = gather.run_estimates(store, [run])
    store.save(estimated)
    return found

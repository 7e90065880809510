"""The verdict of a run against its baseline, from what a store holds of them: arrays and
estimates in (``ComparisonInputs``, read from a store in one step by
``loadkit.store.gather``), a ``Comparison`` out. It checks that the runs are comparable,
builds the history of the comparable runs, measures the run-to-run noise there, and judges
every endpoint with Holm across the comparison (``loadkit.stats.comparison``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loadkit.core.defaults import ALPHA, MIN_CHANGE, floor_of
from loadkit.core.records import Endpoint, RunInfo
from loadkit.stats import estimates, history
from loadkit.stats.comparability import comparability_warnings
from loadkit.stats.comparison import Comparison, compare_endpoints, thin
from loadkit.stats.estimates import RunEstimates
from loadkit.stats.level_noise import PairContext, pair_context


@dataclass(frozen=True)
class ComparisonInputs:
    """Everything a pair verdict reads of a store, in one value."""

    current: RunInfo
    baseline: RunInfo | None  # None: no earlier comparable run
    by_history: bool  # --baseline history: judged against each endpoint's level
    group: list[RunInfo]  # the current run and the comparable runs before it, oldest first
    earlier: dict[str, dict[Endpoint, RunEstimates]]  # the estimates of group[:-1], by label
    endpoints: list[Endpoint] = field(default_factory=list)  # by name, then method
    # Per endpoint, the successful timings of (current, baseline), ramp-up out, in the
    # order the requests started.
    timings: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    # Estimates computed from timings while reading (none were kept), for the store to keep.
    estimated: list[tuple[RunInfo, dict[Endpoint, RunEstimates]]] = field(default_factory=list)


def judge(
    inputs: ComparisonInputs, alpha: float = ALPHA, min_change: dict[str, float] | None = None
) -> Comparison:
    """``min_change`` None: the default thresholds, or none where history measures the
    run-to-run noise (it is in the interval); given: the user's floor in both cases. The
    current run's estimates are in the comparison's history, for the store to keep."""
    thresholds = min_change or dict(MIN_CHANGE)
    floor = floor_of(min_change)
    current, baseline = inputs.current, inputs.baseline
    comparison = Comparison(current, baseline, alpha, thresholds)
    if baseline is None:
        comparison.warnings.append("no earlier comparable run: nothing to compare with")
        return comparison
    comparison.warnings = comparability_warnings(current, baseline)
    timings = [
        (method, name, now, before)
        for (method, name), (now, before) in zip(inputs.endpoints, inputs.timings, strict=True)
    ]
    by_label = dict(inputs.earlier)
    # A comparable baseline's estimates are known already: kept when it closed.
    before_known = by_label.get(baseline.label, {})
    found = [
        (
            estimates.of_times(now),
            before_known.get((m, n)) or estimates.of_times(before),
        )
        for m, n, now, before in timings
    ]
    by_label[current.label] = {e: now for e, (now, _) in zip(inputs.endpoints, found, strict=True)}
    per_run = [by_label[run.label] for run in inputs.group]
    comparison.history = history.build(inputs.group, per_run, floor)
    # History measures the noise only of runs that are comparable with the current one.
    measured = baseline.label in by_label
    comparison.by_history = inputs.by_history
    against = None if comparison.by_history else baseline.label
    contexts = [
        pair_context(comparison.history.endpoints, by_label, e, runs, against, floor, alpha)
        if measured
        else PairContext()
        for e, runs in zip(inputs.endpoints, found, strict=True)
    ]
    earlier = [run.label for run in inputs.group[:-1]]
    comparison.baseline_runs = sorted(
        {label for c in contexts for runs in c.baseline_runs.values() for label in runs}
        or {baseline.label},
        key=[*earlier, baseline.label].index,
    )
    comparison.endpoints = compare_endpoints(timings, alpha, thresholds, contexts, found)
    comparison.curves = {(m, n): (thin(now), thin(before)) for m, n, now, before in timings}
    return comparison

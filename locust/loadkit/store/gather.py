"""A comparison's inputs, read from a store in one step: the runs, their kept estimates
(or, where none are kept, estimates computed from their timings, handed on for the store
to keep with the result), and the timings the verdict looks at."""

from __future__ import annotations

from dataclasses import dataclass, replace

from loadkit.core.defaults import HISTORY, PREVIOUS
from loadkit.core.records import BASELINE, CANDIDATE, Endpoint, RunInfo, side_of
from loadkit.stats import estimates
from loadkit.stats.duet import DuetInputs, Side
from loadkit.stats.estimates import RunEstimates
from loadkit.stats.pair import ComparisonInputs
from loadkit.store.base import ResultsStore

DEFAULT_RUNS = 50  # the newest comparable runs a history reads, unless told otherwise

Estimated = list[tuple[RunInfo, dict[Endpoint, RunEstimates]]]


@dataclass(frozen=True)
class HistoryInputs:
    """What the history of a run reads: its comparable runs and their estimates."""

    current: RunInfo
    runs: list[RunInfo]  # oldest first, the current run last
    per_run: list[dict[Endpoint, RunEstimates]]  # in the order of ``runs``
    estimated: Estimated  # computed while reading (none were kept), for the store to keep


def _run(store: ResultsStore, label: str) -> RunInfo:
    run = store.run(label)
    if run is None:
        raise LookupError(f"no run labelled {label!r} in {store.where}")
    return run


def group(
    store: ResultsStore, current: RunInfo, since: str | None = None, last: int | None = None
) -> list[RunInfo]:
    """``current`` and the comparable runs before it, oldest first: from the run labelled
    ``since`` on (it must be one of them), the newest ``last`` of them."""
    runs = [current, *store.comparable_runs(current, limit=max(last or DEFAULT_RUNS, 1) - 1)]
    if since is not None:
        labels = [run.label for run in runs]
        if since not in labels:
            raise LookupError(
                f"run {since!r} is not among the comparable runs of {current.label!r}"
            )
        runs = runs[: labels.index(since) + 1]
    return list(reversed(runs))


def run_estimates(
    store: ResultsStore, runs: list[RunInfo]
) -> tuple[list[dict[Endpoint, RunEstimates]], Estimated]:
    """Each run's estimates per endpoint, kept or computed from its timings; and those
    that were computed."""
    found, computed = [], []
    for run in runs:
        kept = store.kept_estimates(run.id)
        if kept is None:
            kept = {
                endpoint: estimates.of_times(store.response_times(run.id, endpoint))
                for endpoint in store.endpoints(run.id)
            }
            computed.append((run, kept))
        found.append(kept)
    return found, computed


def _union(store: ResultsStore, *sides: tuple[int, int]) -> list[Endpoint]:
    """The endpoints timed on any of these (run id, side), by name, then method."""
    found = {e for run_id, side in sides for e in store.endpoints(run_id, side)}
    return sorted(found, key=lambda e: (e[1], e[0]))


def side_inputs(store: ResultsStore, current_label: str, baseline_label: str) -> ComparisonInputs:
    """A pair in which either label names a duet's candidate side ("LABEL:candidate"): the
    two sides' timings, as two runs of their own. Nothing measures the noise between them
    (they did not run side by side), so the pair verdict says so."""
    (label, side), (other, other_side) = side_of(current_label), side_of(baseline_label)
    current, baseline = _run(store, label), _run(store, other)
    for run, wanted in ((current, side), (baseline, other_side)):
        if wanted == CANDIDATE and not run.duet:
            raise LookupError(f"run {run.label!r} is not a duet: it has no candidate side")
    endpoints = _union(store, (current.id, side), (baseline.id, other_side))
    as_current = replace(current, label=current_label)
    return ComparisonInputs(
        as_current,
        replace(baseline, label=baseline_label),
        False,
        [as_current],
        {},
        endpoints,
        [
            (
                store.response_times(current.id, e, side),
                store.response_times(baseline.id, e, other_side),
            )
            for e in endpoints
        ],
    )


def comparison_inputs(
    store: ResultsStore, current_label: str, baseline_label: str
) -> ComparisonInputs:
    """``baseline_label`` may be "previous" (the last earlier run comparable to this one)
    or "history" (the comparable runs since the last change point, up to 10, per
    endpoint). Either may name a duet's candidate side (``side_inputs``)."""
    if CANDIDATE in (side_of(current_label)[1], side_of(baseline_label)[1]):
        if baseline_label in (PREVIOUS, HISTORY):
            raise LookupError(
                f"a candidate side is compared with a named run, not {baseline_label!r}"
            )
        return side_inputs(store, current_label, baseline_label)
    current = _run(store, current_label)
    runs = group(store, current)
    earlier, estimated = run_estimates(store, runs[:-1])
    if baseline_label in (PREVIOUS, HISTORY):
        baseline = runs[-2] if len(runs) > 1 else None
    else:
        baseline = _run(store, baseline_label)
    endpoints: list[Endpoint] = []
    if baseline is not None:
        endpoints = _union(store, (current.id, BASELINE), (baseline.id, BASELINE))
    return ComparisonInputs(
        current,
        baseline,
        baseline_label == HISTORY,
        runs,
        {run.label: found for run, found in zip(runs[:-1], earlier, strict=True)},
        endpoints,
        [
            (store.response_times(current.id, e), store.response_times(baseline.id, e))
            for e in endpoints
            if baseline is not None
        ],
        estimated,
    )


def history_inputs(
    store: ResultsStore, current_label: str | None, since: str | None, last: int | None
) -> HistoryInputs:
    """The history of the run labelled ``current_label`` (None: the newest run)."""
    if current_label is None:
        stored = store.runs()
        if not stored:
            raise LookupError(f"no run in {store.where}")
        current = stored[-1]
    else:
        current = _run(store, current_label)
    runs = group(store, current, since, last)
    per_run, estimated = run_estimates(store, runs)
    return HistoryInputs(current, runs, per_run, estimated)


def duet_inputs(store: ResultsStore, label: str) -> DuetInputs:
    """A duet run and, per endpoint timed on both of its sides, the two sides' timings."""
    run = _run(store, label)
    if not run.duet:
        raise LookupError(f"run {label!r} is not a duet (it has no candidate host)")
    both = set(store.endpoints(run.id, BASELINE)) & set(store.endpoints(run.id, CANDIDATE))
    return DuetInputs(
        run,
        [
            (
                method,
                name,
                Side(*store.side_timings(run.id, (method, name), BASELINE)),
                Side(*store.side_timings(run.id, (method, name), CANDIDATE)),
            )
            for method, name in sorted(both, key=lambda e: (e[1], e[0]))
        ],
    )

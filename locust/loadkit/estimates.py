"""Each run's quantile estimates per endpoint (``loadkit.verdict.estimate``), computed once
from its timings and kept in the results store: a history of fifty runs reads fifty runs'
few rows, not fifty runs' millions of timings. A closed run's timings never change, so its
rows stay valid until the estimator changes (``VERSION``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadkit import verdict
from loadkit.results import ResultsStore, RunInfo

VERSION = 1  # of verdict.estimate: rows of another version are computed again
# (their tables, `estimates` and `estimated_runs`, are the store's: loadkit.results)

Endpoint = tuple[str, str]


@dataclass(frozen=True)
class RunEstimates:
    """One endpoint of one run: its count of timings and its quantiles."""

    count: int
    quantiles: dict[str, verdict.QuantileEstimate | None]


def of_times(times: np.ndarray) -> RunEstimates:
    return RunEstimates(int(times.size), verdict.estimate(times))


def _read(store: ResultsStore, run_id: int) -> dict[Endpoint, RunEstimates] | None:
    row = store.db.execute(
        "SELECT version FROM estimated_runs WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None or row[0] != VERSION:
        return None
    found: dict[Endpoint, RunEstimates] = {}
    for kind, name, count, quantile, value, se_log in store.db.execute(
        "SELECT request_type, name, count, quantile, value, se_log FROM estimates WHERE run_id = ?",
        (run_id,),
    ):
        entry = found.setdefault((kind, name), RunEstimates(count, {}))
        entry.quantiles[quantile] = (
            None if value is None else verdict.QuantileEstimate(value, se_log, count)
        )
    return found


def save(store: ResultsStore, run: RunInfo, estimates: dict[Endpoint, RunEstimates]) -> None:
    """Keep a closed run's estimates (an open run's timings may still grow)."""
    if run.stopped_at is None:
        return
    rows = [
        (
            run.id,
            kind,
            name,
            e.count,
            q,
            None if est is None else est.value,
            None if est is None else est.se_log,
        )
        for (kind, name), e in estimates.items()
        for q, est in e.quantiles.items()
    ]
    with store.db:
        store.db.execute("DELETE FROM estimates WHERE run_id = ?", (run.id,))
        store.db.executemany("INSERT INTO estimates VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        store.db.execute("INSERT OR REPLACE INTO estimated_runs VALUES (?, ?)", (run.id, VERSION))


def of_run(store: ResultsStore, run: RunInfo) -> dict[Endpoint, RunEstimates]:
    """The run's estimates per endpoint: from the store, or computed and kept."""
    found = _read(store, run.id)
    if found is not None:
        return found
    found = {
        endpoint: of_times(store.response_times(run.id, endpoint))
        for endpoint in store.endpoints(run.id)
    }
    save(store, run, found)
    return found

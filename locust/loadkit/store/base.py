"""The results store's interface: what the recorder writes, what the listings read, and the
short list of reads and the one write a comparison needs (``loadkit.store.gather`` reads a
comparison's inputs with it in one step; ``loadkit.compare`` writes its result in one).
Every store fills it: SQLite (``loadkit.store.sqlite``) is the embedded default, the
loadwatch service (``loadkit.store.service``) a team's shared history."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from loadkit.core.records import (
    BASELINE,
    CANDIDATE,
    Batch,
    Endpoint,
    RunInfo,
    StoredComparison,
    VerdictRecord,
    side_of,
)

if TYPE_CHECKING:
    import numpy as np

    from loadkit.stats.estimates import RunEstimates


class ResultsStore(Protocol):
    @property
    def where(self) -> str:
        """Where the store is, as messages name it."""
        ...

    def reopen(self) -> ResultsStore:
        """Another handle on the same store, for another thread."""
        ...

    def close(self) -> None: ...

    # Recording: one run per test, written by one writer.
    def start_run(self, label: str, settings: dict[str, Any]) -> tuple[int, str]:
        """A new run and its label: ``label``, or ``label-2``, ``label-3``… when taken
        (claimed at once: two writers never get one label)."""
        ...

    def mark_spawned(self, run_id: int, spawned_at: float) -> None: ...

    def add_timings(self, run_id: int, batch: Batch, spawned_at: float | None) -> int: ...

    def finish_run(
        self,
        run_id: int,
        stopped_at: float,
        peak_cpu: float | None,
        pacing_changes: Sequence[tuple[float, float]] = (),
    ) -> None: ...

    # Listings.
    def run(self, label: str) -> RunInfo | None: ...

    def runs(self) -> list[RunInfo]:
        """Every stored run, oldest first."""
        ...

    def count(self, run_id: int) -> int: ...

    def verdicts(self) -> dict[int, str]:
        """Each compared run's one-line verdict, by run id."""
        ...

    def comparison(self, run_id: int) -> StoredComparison | None: ...

    # A comparison's inputs.
    def comparable_runs(self, current: RunInfo, limit: int = -1) -> list[RunInfo]:
        """The closed runs before ``current`` with its locustfile, users, host and pacing,
        newest first (at most ``limit``; -1: all)."""
        ...

    def kept_estimates(self, run_id: int) -> dict[Endpoint, RunEstimates] | None: ...

    def endpoints(self, run_id: int, side: int = BASELINE) -> list[Endpoint]:
        """The endpoints with successful timings in the measured window (of one side)."""
        ...

    def response_times(
        self, run_id: int, endpoint: Sequence[str], side: int = BASELINE
    ) -> np.ndarray:
        """Successful requests' times, ramp-up excluded, in the order the requests
        started."""
        ...

    def side_timings(
        self, run_id: int, endpoint: Sequence[str], side: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(start times, response times) of one side's requests, as ``response_times``."""
        ...

    def batches(self, run_id: int) -> Iterator[Batch]:
        """Every timing of the run, failures and ramp-up included, in batches (a timing
        outside the measured window is a ``setup`` position): what a copy of it adds."""
        ...

    # A comparison's result, in one write.
    def save(
        self,
        estimates: Sequence[tuple[RunInfo, dict[Endpoint, RunEstimates]]],
        verdict: VerdictRecord | None = None,
    ) -> None: ...


def labelled(store: ResultsStore, label: str) -> RunInfo | None:
    """The run a label names, "LABEL:candidate" included (None: no such run, or no such
    side: a run that is not a duet has no candidate side)."""
    name, side = side_of(label)
    run = store.run(name)
    return None if run is None or (side == CANDIDATE and not run.duet) else run

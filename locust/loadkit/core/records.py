"""The records every layer of loadkit speaks of: a run as stored (``RunInfo``), timings in
columns as they travel from a load generator (``Batch``), and a run's verdict as stored
(``VerdictRecord`` to write, ``StoredComparison`` as read back). Plain data of the standard
library: the statistics, the stores, the reports and the Locust side all import them, and
they import nothing of loadkit's."""

import time
from dataclasses import dataclass, field
from typing import Any

Endpoint = tuple[str, str]  # (request_type, name)
BASELINE, CANDIDATE = 0, 1  # the sides of a duet (a run without one is all the baseline's)
CANDIDATE_SUFFIX = ":candidate"  # "LABEL:candidate": a duet's candidate side, as a run


def side_of(label: str) -> tuple[str, int]:
    """The run label and the side a label names: "duet-3:candidate" is the candidate side of
    the run "duet-3"; any other label, the run itself (a duet's baseline side)."""
    if label.endswith(CANDIDATE_SUFFIX):
        return label.removesuffix(CANDIDATE_SUFFIX), CANDIDATE
    return label, BASELINE


@dataclass
class Batch:
    """Timings in columns, as they travel from a worker: the endpoints and the worker are
    named once, each timing refers to its endpoint by index."""

    worker: str = "local"
    endpoints: list[tuple[str, str]] = field(default_factory=list)  # (request_type, name)
    endpoint: list[int] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)  # request start, Unix seconds
    ms: list[float] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)
    # Positions of the timings that a user made while setting up (logging in, …): they
    # are stored but lie outside the measured window. Few, so sent as positions.
    setup: list[int] = field(default_factory=list)
    # Per endpoint, its side in a duet (BASELINE or CANDIDATE); empty: all the baseline's.
    sides: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts)

    def to_message(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "endpoints": self.endpoints,
            "endpoint": self.endpoint,
            "ts": self.ts,
            "ms": self.ms,
            "ok": self.ok,
            "setup": self.setup,
            "sides": self.sides,
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> "Batch":
        return cls(
            worker=str(data["worker"]),
            endpoints=[(str(kind), str(name)) for kind, name in data["endpoints"]],
            endpoint=list(data["endpoint"]),
            ts=list(data["ts"]),
            ms=list(data["ms"]),
            ok=list(data["ok"]),
            setup=[int(i) for i in data.get("setup", ())],
            sides=[int(side) for side in data.get("sides", ())],
        )


@dataclass(frozen=True)
class RunInfo:
    id: int
    label: str
    started_at: float
    spawned_at: float | None
    stopped_at: float | None
    users: int | None
    spawn_rate: float | None
    run_time: str | None
    host: str | None
    locustfile_hash: str | None
    pacing: float | None = None
    req_per_s: float | None = None
    peak_cpu: float | None = None
    pacing_changes: int = 0  # changes of pacing during the run
    candidate_host: str | None = None  # a duet's: the host of its candidate side
    # The machine under test's CPU over the measured window (its cpu-monitor runs; known
    # where the run is recorded into the loadwatch service with --monitor-tag).
    host_cpu_p50: float | None = None
    host_cpu_p95: float | None = None

    @property
    def duet(self) -> bool:
        return bool(self.candidate_host)

    @property
    def started_text(self) -> str:
        """The start, local time, as every listing shows it."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))


@dataclass(frozen=True)
class StoredComparison:
    """A run's comparison with its baseline, as computed when the run ended."""

    run_id: int
    baseline_label: str | None
    created_at: float
    verdict: str
    json: str
    banner: str
    html: str


@dataclass(frozen=True)
class VerdictRecord:
    """A run's comparison with its baseline, as the reports render it, to be stored."""

    run_id: int
    baseline_id: int | None
    verdict: str  # the one-line summary
    json: str
    banner: str  # the verdict's line at the top of a report
    html: str  # the report's section, ECDFs included

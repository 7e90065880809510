"""Beanie documents of load tests, the runs that loadkit records into the service: the run
with its settings, kept estimates and verdict line; its label, claimed by an insert; its
timings in chunks; and its comparison. Like the other documents, uniqueness rests on
deterministic ``_id`` values: a run's number, ``OWNER/LABEL``, ``RUN:CHUNK``."""

from typing import Any, Literal

import pymongo
from beanie import Document
from pydantic import Field
from pymongo import IndexModel

LoadTestStatus = Literal["running", "finished", "incomplete"]


class LoadTest(Document):
    """A load test's run. Times are Unix seconds, as loadkit records them."""

    id: int  # type: ignore[assignment]  # numbered in order of creation, across owners
    owner: str
    label: str
    status: LoadTestStatus = "running"
    started_at: float
    spawned_at: float | None = None  # every user spawned: timings before it are ramp-up
    stopped_at: float | None = None
    users: int | None = None
    spawn_rate: float | None = None
    run_time: str | None = None
    host: str | None = None
    locustfile_hash: str | None = None
    pacing: float | None = None
    candidate_host: str | None = None  # a duet's candidate side
    monitor_tag: str | None = None  # the cpu-monitor runs recording the machine under test
    req_per_s: float | None = None
    peak_cpu: float | None = None  # the busiest load generator's
    # Each change of pacing during the run: {"ts": time, "seconds": pacing}.
    pacing_changes: list[dict[str, float]] = Field(default_factory=list)
    timings: int = 0  # stored, counted as chunks are inserted
    # Requests per second of the run, sent when it closes: {"seconds": [...], "requests":
    # [...]}, two columns (FerretDB stores no arrays within arrays).
    timeline: dict[str, list[float]] = Field(default_factory=dict)
    # The machine under test over the measured window, from its cpu-monitor runs.
    host_cpu: dict[str, Any] | None = None
    verdict: str | None = None  # the one-line verdict against its baseline
    # The kept estimates: {"version": int, "rows": [{request_type, name, count, quantile,
    # value, se_log}]}.
    estimates: dict[str, Any] | None = None
    # "METHOD name" of each endpoint with kept estimates: what a trend's query matches.
    estimated: list[str] = Field(default_factory=list)

    class Settings:
        name = "load_tests"
        indexes = [
            IndexModel([("owner", pymongo.ASCENDING), ("label", pymongo.ASCENDING)]),
            IndexModel([("owner", pymongo.ASCENDING), ("locustfile_hash", pymongo.ASCENDING)]),
        ]


class LoadTestLabel(Document):
    """A label taken: ``_id`` is ``OWNER/LABEL``, so two masters never get one label."""

    id: str  # type: ignore[assignment]
    run_id: int | None = None

    class Settings:
        name = "load_test_labels"


class LoadTestChunk(Document):
    """Up to MAX_CHUNK_TIMINGS timings of one run, compressed in columns
    (domain/load_test_chunks.py has the layout); ``_id`` is ``RUN:CHUNK``, so a chunk sent
    again after an outage is stored once."""

    id: str  # type: ignore[assignment]
    run_id: int
    chunk: int
    timings: int  # in the chunk
    t0_us: int  # the chunk's first start time, microseconds since the epoch
    # {"request_type": …, "name": …}, indexed by the endpoint column (FerretDB stores no
    # arrays within arrays).
    endpoints: list[dict[str, str]]
    data: bytes

    class Settings:
        name = "load_test_chunks"
        indexes = [IndexModel([("run_id", pymongo.ASCENDING), ("chunk", pymongo.ASCENDING)])]


class LoadTestComparison(Document):
    """A run's comparison with its baseline, as loadkit's reports render it."""

    id: int  # type: ignore[assignment]  # the run's
    baseline_id: int | None = None
    baseline_label: str | None = None
    created_at: float
    verdict: str
    json_text: str
    banner: str
    html: str

    class Settings:
        name = "load_test_comparisons"


LOAD_TEST_MODELS: list[type[Document]] = [
    LoadTest,
    LoadTestLabel,
    LoadTestChunk,
    LoadTestComparison,
]

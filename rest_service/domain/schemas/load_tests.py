"""Bodies of load tests: the runs loadkit records, their timings in chunks, their kept
estimates and comparisons. Times are Unix seconds (floats), as loadkit records them."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from rest_service.domain.schemas.common import MAX_SAFE_INT, Strict, whole
from rest_service.storage.load_test_models import LoadTestStatus

MAX_CHUNK_TIMINGS = 100_000
MAX_CHUNK_ENDPOINTS = 1_000
MAX_LABEL = 200


class Exact(Strict):
    """Bodies whose numbers are numbers: true is no number, "5" no count."""


# Printable: no control characters. (loadkit reads "LABEL:candidate" as a duet's candidate
# side, and never records a label of that form.)
Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL, pattern=r"^[^\x00-\x1f\x7f]+$")]
Count = Annotated[Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INT)], BeforeValidator(whole)]
Seconds = Annotated[float, Field(strict=True, ge=0, le=1e11, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=2_000)]
Name = Annotated[str, Field(max_length=1_000)]


class LoadTestIn(Exact):
    label: Label
    started_at: Seconds
    users: Count | None = None
    spawn_rate: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None
    run_time: Annotated[str, Field(max_length=64)] | None = None
    host: Text | None = None
    locustfile_hash: Annotated[str, Field(max_length=128)] | None = None
    pacing: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None
    candidate_host: Text | None = None
    monitor_tag: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class LoadTestSpawned(Exact):
    spawned_at: Seconds


class LoadTestClose(Exact):
    stopped_at: Seconds
    req_per_s: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None
    peak_cpu: Annotated[float, Field(strict=True, ge=0, le=100_000, allow_inf_nan=False)] | None = (
        None
    )
    pacing_changes: Annotated[list[tuple[Seconds, Seconds]], Field(max_length=10_000)] = []
    # (second, requests) of each second of the run.
    timeline: Annotated[
        list[tuple[Seconds, Count]],
        Field(max_length=100_000),
    ] = []
    incomplete: Annotated[bool, Field(strict=True)] = (
        False  # some timings never reached the service
    )


class HostCpu(BaseModel):
    """The machine under test's CPU over the run's measured window."""

    p50: float | None
    p95: float | None
    samples: int
    runs: list[str]  # the cpu-monitor runs it was read from


class LoadTestOut(BaseModel):
    id: int
    owner: str
    label: str
    status: LoadTestStatus
    started_at: float
    started: str  # started_at as ISO text, for dashboards
    spawned_at: float | None
    stopped_at: float | None
    users: int | None
    spawn_rate: float | None
    run_time: str | None
    host: str | None
    locustfile_hash: str | None
    pacing: float | None
    candidate_host: str | None
    monitor_tag: str | None
    req_per_s: float | None
    peak_cpu: float | None
    pacing_changes: int
    timings: int
    host_cpu: HostCpu | None
    verdict: str | None


class ChunkIn(Exact):
    chunk: Count
    count: Annotated[
        Annotated[int, Field(strict=True, ge=1, le=MAX_CHUNK_TIMINGS)], BeforeValidator(whole)
    ]
    t0_us: Count
    endpoints: Annotated[
        list[tuple[Name, Name]], Field(min_length=1, max_length=MAX_CHUNK_ENDPOINTS)
    ]
    data: Annotated[str, Field(max_length=4_000_000, description="base64 of the chunk's columns")]


class ChunkAccepted(BaseModel):
    stored: int  # timings stored by this request (0: the chunk was stored before)
    duplicate: bool


class ChunkOut(BaseModel):
    chunk: int
    count: int
    t0_us: int
    endpoints: list[tuple[str, str]]
    data: str


class ChunkPage(BaseModel):
    items: list[ChunkOut]
    next_after: int | None


class EstimateRow(Exact):
    request_type: Name
    name: Name
    count: Count
    quantile: Annotated[str, Field(pattern=r"^p\d{1,2}(\.\d+)?$")]
    value: Annotated[float, Field(strict=True, allow_inf_nan=False)] | None
    se_log: Annotated[float, Field(strict=True, allow_inf_nan=False)] | None


class EstimatesIn(Exact):
    run_id: Count
    version: Count
    rows: Annotated[list[EstimateRow], Field(max_length=30_000)]


class ChangePointIn(Exact):
    run: Label
    request_type: Name
    name: Name
    quantile: Annotated[str, Field(max_length=8)]
    change: Annotated[float, Field(strict=True, allow_inf_nan=False)]


class ComparisonIn(Exact):
    run_id: Count
    baseline_id: Count | None
    verdict: Annotated[str, Field(max_length=10_000)]
    json_text: Annotated[str, Field(max_length=2_000_000)]
    banner: Annotated[str, Field(max_length=20_000)]
    html: Annotated[str, Field(max_length=3_000_000)]
    change_points: Annotated[list[ChangePointIn], Field(max_length=10_000)] = []


class ResultsIn(Exact):
    """A comparison's result, in one write: the estimates computed for it and the verdict."""

    estimates: Annotated[list[EstimatesIn], Field(max_length=500)] = []
    comparison: ComparisonIn | None = None


class EstimatesOut(BaseModel):
    version: int
    rows: list[dict[str, Any]]


class ComparisonOut(BaseModel):
    run_id: int
    baseline_id: int | None
    baseline_label: str | None
    created_at: float
    verdict: str
    json_text: str
    banner: str
    html: str


class TrendPoint(BaseModel):
    """One run of an endpoint's trend: each quantile and its 95 % interval (ms)."""

    id: int
    label: str
    time: str
    verdict: str | None
    p50: float | None = None
    p50_low: float | None = None
    p50_high: float | None = None
    p95: float | None = None
    p95_low: float | None = None
    p95_high: float | None = None
    p99: float | None = None
    p99_low: float | None = None
    p99_high: float | None = None


class EndpointOut(BaseModel):
    id: str  # "METHOD name", as the trend's ``endpoint`` takes it


class MonitorRunOut(BaseModel):
    """A cpu-monitor run recording the machine under test of a load test."""

    id: str
    name: str


class ChangePointOut(BaseModel):
    time: str
    label: str
    endpoint: str
    text: str


class TimelinePoint(BaseModel):
    time: str
    requests: int

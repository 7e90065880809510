"""Prometheus metrics: the metric objects, the HTTP middleware, and the /metrics body.

The HTTP series are named as prometheus-fastapi-instrumentator names them
(http_requests_total, http_request_duration_seconds, http_request_size_bytes,
http_response_size_bytes...), so community FastAPI dashboards fit; the service's own
start with ``loadwatch_``, so that they cannot collide in a shared Prometheus. With several
uvicorn workers, prometheus-client runs in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set
by `python -m rest_service serve`).
"""

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# 1 ms to 10 s, as the latency alert (500 ms) and the dashboards need.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# 100 B to 10 MB: a login, a page of samples, a batch of 10,000 samples, a run's CSV.
SIZE_BUCKETS = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by method, route template and status class.",
    ["method", "handler", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "handler"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUEST_SIZE = Histogram(
    "http_request_size_bytes",
    "HTTP request body sizes (Content-Length) by route template.",
    ["handler"],
    buckets=SIZE_BUCKETS,
)
HTTP_RESPONSE_SIZE = Histogram(
    "http_response_size_bytes",
    "HTTP response body sizes by route template.",
    ["handler"],
    buckets=SIZE_BUCKETS,
)
HTTP_INPROGRESS = Gauge(
    "http_requests_inprogress",
    "HTTP requests being answered now.",
    multiprocess_mode="livesum",
)
SAMPLES_INGESTED = Counter("loadwatch_samples_ingested_total", "Samples stored.")
SAMPLES_DUPLICATES = Counter(
    "loadwatch_samples_duplicates_total", "Samples dropped because their (run, seq) was stored."
)
RUNS_ENDED = Counter(
    "loadwatch_test_runs_total", "Test runs that ended, by final status.", ["status"]
)
LOGINS = Counter("loadwatch_auth_logins_total", "Login attempts by result.", ["result"])
EVENTS_STORED = Counter("loadwatch_events_stored_total", "Run events stored.")
EVENTS_REJECTED = Counter(
    "loadwatch_events_rejected_total",
    "Run events refused, by category (or 'unknown') and reason.",
    ["category", "reason"],
)
CACHE_HITS = Counter(
    "loadwatch_cache_hits_total", "Cache lookups that found a live item.", ["cache"]
)
CACHE_MISSES = Counter(
    "loadwatch_cache_misses_total", "Cache lookups that found nothing.", ["cache"]
)
CACHE_EVICTIONS = Counter(
    "loadwatch_cache_evictions_total", "Items dropped on expiry or to make room.", ["cache"]
)
CACHE_ITEMS = Gauge("loadwatch_cache_items", "Items held.", ["cache"], multiprocess_mode="livesum")

# Every label value exists from the start, so rates and alerts see zeros, not gaps.
for _status in ("finished", "aborted", "abandoned"):
    RUNS_ENDED.labels(status=_status)
for _result in ("success", "failure", "throttled"):
    LOGINS.labels(result=_result)


class HTTPMetrics:
    """ASGI middleware: counts, times and tracks every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # labels() validates and locks on every call: look each label set up once.
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._sizes: dict[str, tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering
        sent = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        HTTP_INPROGRESS.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - start
            HTTP_INPROGRESS.dec()
            # The router left the matched route in the scope: label by its template.
            route = scope.get("route")
            handler = getattr(route, "path", None) or "none"
            method = scope["method"] if scope["method"] in METHODS else "other"
            key = (method, handler, f"{status // 100}xx")
            counter = self._requests.get(key)
            if counter is None:
                counter = self._requests[key] = HTTP_REQUESTS.labels(*key)
            counter.inc()
            histogram = self._durations.get(key[:2])
            if histogram is None:
                histogram = self._durations[key[:2]] = HTTP_DURATION.labels(*key[:2])
            histogram.observe(elapsed)
            sizes = self._sizes.get(handler)
            if sizes is None:
                sizes = self._sizes[handler] = (
                    HTTP_REQUEST_SIZE.labels(handler),
                    HTTP_RESPONSE_SIZE.labels(handler),
                )
            sizes[0].observe(_content_length(scope))
            sizes[1].observe(sent)


def _content_length(scope: Scope) -> int:
    """The request body's declared size (0 without one), as the instrumentator reads it."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


@dataclass(frozen=True)
class ActiveRun:
    run_id: str
    host: str
    threshold: float | None
    last_cpu: float | None
    # The latest sample's optional figures, and per figure (cpu_usage_percent included)
    # {"sum", "count", "max"} over every stored sample.
    last: dict[str, float] = field(default_factory=dict)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)


class _ActiveRuns(Collector):
    """Series read from the database at scrape time, so every worker agrees and a run
    that ends simply stops appearing (no remove() needed, which multiprocess mode lacks).

    Per running run and figure F (cpu_usage_percent, memory_used_percent...):
    ``loadwatch_F`` the latest sample, ``loadwatch_F_max`` the highest so far, and the
    summary ``loadwatch_F_samples`` (``_sum``, ``_count`` of every stored sample), so that
    ``rate(_sum) / rate(_count)`` is the exact mean over any window even when samples come
    faster than Prometheus scrapes."""

    def __init__(self, runs: Sequence[ActiveRun]) -> None:
        self.runs = runs

    def collect(self) -> Iterable[Metric]:
        active = GaugeMetricFamily("loadwatch_test_runs_active", "Test runs in status running.")
        active.add_metric([], len(self.runs))
        labels = ["run_id", "host"]
        threshold = GaugeMetricFamily(
            "loadwatch_test_run_threshold_percent",
            "CPU threshold of each running run that has one.",
            labels=labels,
        )
        figures: dict[str, tuple[GaugeMetricFamily, GaugeMetricFamily, SummaryMetricFamily]] = {}

        def families(name: str) -> tuple[GaugeMetricFamily, GaugeMetricFamily, SummaryMetricFamily]:
            found = figures.get(name)
            if found is None:
                found = figures[name] = (
                    GaugeMetricFamily(
                        f"loadwatch_{name}",
                        f"Latest {name} sample of each running run.",
                        labels=labels,
                    ),
                    GaugeMetricFamily(
                        f"loadwatch_{name}_max",
                        f"Highest {name} sample of each running run.",
                        labels=labels,
                    ),
                    SummaryMetricFamily(
                        f"loadwatch_{name}_samples",
                        f"Every stored {name} sample of each running run.",
                        labels=labels,
                    ),
                )
            return found

        families("cpu_usage_percent")  # present (maybe empty) whatever the runs carry
        for run in self.runs:
            key = [run.run_id, run.host]
            if run.threshold is not None:
                threshold.add_metric(key, run.threshold)
            last = {"cpu_usage_percent": run.last_cpu, **run.last}
            for name, value in last.items():
                if value is not None:
                    families(name)[0].add_metric(key, value)
            for name, total in run.totals.items():
                _last, maximum, samples = families(name)
                maximum.add_metric(key, total["max"])
                samples.add_metric(key, count_value=int(total["count"]), sum_value=total["sum"])
        return [active, threshold, *(f for trio in figures.values() for f in trio)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_workers(directory: Path) -> list[int]:
    """Forget the ``livesum`` gauges of workers that have died. prometheus-client keeps
    a worker's live-gauge file, and so its last values, until ``mark_process_dead`` is
    called for it, which uvicorn's supervisor never does; a crashed worker's requests
    in progress would be counted forever. Counters' files stay: totals must not fall."""
    reaped = []
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]
            reaped.append(int(pid))
    return reaped


def render(active_runs: Sequence[ActiveRun]) -> bytes:
    """The /metrics body: the process's (or all workers') metrics plus the run gauges."""
    if MULTIPROCESS:
        reap_dead_workers(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        # Process metrics can't be summed across workers: these are the answering worker's.
        ProcessCollector(registry=registry)
    else:
        registry = REGISTRY
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_ActiveRuns(active_runs))
    return generate_latest(registry) + generate_latest(snapshot)

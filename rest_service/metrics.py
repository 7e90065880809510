"""Prometheus metrics: the metric objects, the HTTP middleware, and the /metrics body.

Names follow prometheus-fastapi-instrumentator (http_requests_total and friends), so
existing dashboards and habits fit. With several uvicorn workers, prometheus-client runs
in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by `python -m rest_service serve`).
"""

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# 1 ms to 10 s, as the latency alert (500 ms) and the dashboards need.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
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
HTTP_INPROGRESS = Gauge(
    "http_requests_inprogress",
    "HTTP requests being answered now.",
    multiprocess_mode="livesum",
)
SAMPLES_INGESTED = Counter("cpu_samples_ingested_total", "CPU samples stored.")
SAMPLES_DUPLICATES = Counter(
    "cpu_samples_duplicates_total", "CPU samples dropped because their (run, seq) was stored."
)
RUNS_ENDED = Counter("test_runs_total", "Test runs that ended, by final status.", ["status"])
LOGINS = Counter("auth_logins_total", "Login attempts by result.", ["result"])
EVENTS_STORED = Counter("events_stored_total", "Run events stored.")
EVENTS_REJECTED = Counter(
    "events_rejected_total",
    "Run events refused, by category (or 'unknown') and reason.",
    ["category", "reason"],
)
CACHE_HITS = Counter("cache_hits_total", "Cache lookups that found a live item.", ["cache"])
CACHE_MISSES = Counter("cache_misses_total", "Cache lookups that found nothing.", ["cache"])
CACHE_EVICTIONS = Counter(
    "cache_evictions_total", "Items dropped on expiry or to make room.", ["cache"]
)
CACHE_ITEMS = Gauge("cache_items", "Items held.", ["cache"], multiprocess_mode="livesum")

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
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


@dataclass(frozen=True)
class ActiveRun:
    run_id: str
    host: str
    threshold: float | None
    last_cpu: float | None


class _ActiveRuns(Collector):
    """Gauges read from the database at scrape time, so every worker agrees and a run
    that ends simply stops appearing (no remove() needed, which multiprocess mode lacks)."""

    def __init__(self, runs: Sequence[ActiveRun]) -> None:
        self.runs = runs

    def collect(self) -> Iterable[Metric]:
        active = GaugeMetricFamily("test_runs_active", "Test runs in status running.")
        active.add_metric([], len(self.runs))
        cpu = GaugeMetricFamily(
            "cpu_usage_percent",
            "Latest CPU sample of each running run.",
            labels=["run_id", "host"],
        )
        threshold = GaugeMetricFamily(
            "test_run_threshold_percent",
            "CPU threshold of each running run that has one.",
            labels=["run_id", "host"],
        )
        for run in self.runs:
            if run.last_cpu is not None:
                cpu.add_metric([run.run_id, run.host], run.last_cpu)
            if run.threshold is not None:
                threshold.add_metric([run.run_id, run.host], run.threshold)
        return [active, cpu, threshold]


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

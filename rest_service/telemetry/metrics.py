"""The service's Prometheus metric objects.

The HTTP series are named as prometheus-fastapi-instrumentator names them
(http_requests_total, http_request_duration_seconds, http_request_size_bytes,
http_response_size_bytes...), so community FastAPI dashboards fit; the service's own
start with ``loadwatch_``, so that they cannot collide in a shared Prometheus. With several
uvicorn workers, prometheus-client runs in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set
by `python -m rest_service serve`).
"""

import os

from prometheus_client import Counter, Gauge, Histogram

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

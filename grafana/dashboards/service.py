"""The Service dashboard: traffic, errors, latency, sizes, ingest, runs, logins, the
process and its caches."""

from grafana_foundation_sdk.builders import dashboard

from grafana.dashboards.frame import SERVICE_JOB, active_runs, dashboard_of, prometheus_variable
from grafana.dashboards.panels import AnyPanel, graph
from grafana.dashboards.queries import SERVICE, quantiles

FILE = "service.json"
HANDLER = f'{SERVICE}, handler=~"$handler"'


def _per_handler(counter: str) -> str:
    return f"sum by (handler) (rate({counter}{{{HANDLER}}}[1m]))"


def _mean_size(histogram: str) -> str:
    return f"{_per_handler(histogram + '_sum')} / {_per_handler(histogram + '_count')}"


def _status_ratio(status: str) -> str:
    requests = f"sum(rate(http_requests_total{{{HANDLER}}}[1m]))"
    return (
        f'(sum(rate(http_requests_total{{{HANDLER}, status="{status}"}}[1m])) or vector(0)) '
        f"/ {requests}"
    )


def _per_cache(counter: str) -> str:
    return f"sum by (cache) (rate({counter}{{{SERVICE}}}[5m]))"


def build() -> dashboard.Dashboard:
    hits, misses = (
        _per_cache("loadwatch_cache_hits_total"),
        _per_cache("loadwatch_cache_misses_total"),
    )
    traffic: list[AnyPanel] = [
        graph(
            "Request rate by handler",
            "Requests per second to each route template.",
            "reqps",
            [("{{handler}}", _per_handler("http_requests_total"))],
        ),
        graph(
            "4xx and 5xx ratio",
            "Share of requests answered with a client error (4xx) or a server error (5xx).",
            "percentunit",
            [("4xx", _status_ratio("4xx")), ("5xx", _status_ratio("5xx"))],
            alert="ServiceHighErrorRatio",
        ),
        graph(
            "Latency p50, p95, p99 by handler",
            "Response time quantiles from the request duration histogram, per route.",
            "s",
            quantiles(
                "histogram_quantile({q}, sum by (le, handler) "
                f"(rate(http_request_duration_seconds_bucket{{{HANDLER}}}[1m])))"
            ),
            width=24,
            alert="ServiceHighLatencyP95",
        ),
        graph(
            "Requests in progress",
            "Requests being answered right now, all workers together.",
            "short",
            [("in progress", f"sum(http_requests_inprogress{{{SERVICE}}})")],
            width=8,
        ),
        graph(
            "Request body size, mean by handler",
            "Bytes per request body (Content-Length), from http_request_size_bytes.",
            "bytes",
            [("{{handler}}", _mean_size("http_request_size_bytes"))],
            width=8,
        ),
        graph(
            "Response body size, mean by handler",
            "Bytes per response body, from http_response_size_bytes.",
            "bytes",
            [("{{handler}}", _mean_size("http_response_size_bytes"))],
            width=8,
        ),
    ]
    ingest: list[AnyPanel] = [
        graph(
            "Samples ingested and duplicates per second",
            "Samples stored per second, and retried samples dropped as duplicates.",
            "short",
            [
                ("ingested", f"sum(rate(loadwatch_samples_ingested_total{{{SERVICE}}}[1m]))"),
                ("duplicates", f"sum(rate(loadwatch_samples_duplicates_total{{{SERVICE}}}[1m]))"),
            ],
            width=8,
        ),
        active_runs(width=8),
        graph(
            "Logins by result",
            "Login attempts per second: success, failure (wrong password or user), throttled "
            "(too many failures).",
            "reqps",
            [
                (
                    "{{result}}",
                    f"sum by (result) (rate(loadwatch_auth_logins_total{{{SERVICE}}}[5m]))",
                )
            ],
            width=8,
        ),
    ]
    process: list[AnyPanel] = [
        graph(
            "Process CPU",
            "CPU used by the service process, as a share of one core.",
            "percentunit",
            [("{{instance}}", f"rate(process_cpu_seconds_total{{{SERVICE}}}[1m])")],
            width=8,
        ),
        graph(
            "Process memory",
            "Resident memory of the service process.",
            "bytes",
            [("{{instance}}", f"process_resident_memory_bytes{{{SERVICE}}}")],
            width=8,
        ),
        graph(
            "Cache hit ratio",
            "Share of cache lookups that found a live item, per cache.",
            "percentunit",
            [("{{cache}}", f"{hits} / ({hits} + {misses})")],
            width=8,
        ),
        graph(
            "Cache items",
            "Items each cache holds.",
            "short",
            [("{{cache}}", f"sum by (cache) (loadwatch_cache_items{{{SERVICE}}})")],
        ),
        graph(
            "Cache evictions per second",
            "Items dropped on expiry or to make room, per cache.",
            "short",
            [("{{cache}}", _per_cache("loadwatch_cache_evictions_total"))],
        ),
    ]
    return dashboard_of(
        "loadwatch-service",
        "loadwatch / Service",
        "The REST service: traffic, errors, latency, sizes, ingest, runs, logins, process and "
        "caches.",
        [
            SERVICE_JOB,
            prometheus_variable(
                "handler", "Handler", f"label_values(http_requests_total{{{SERVICE}}}, handler)"
            ),
        ],
        [
            ("Traffic", traffic),
            ("Ingest, runs and logins", ingest),
            ("Process and caches", process),
        ],
    )

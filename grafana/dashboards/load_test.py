"""The Load test dashboard: the Locust test read from the master's exporter, beside the
service's latency over the same window."""

from typing import Any

from grafana_foundation_sdk.builders import dashboard

from grafana.dashboards.frame import SERVICE_JOB, dashboard_of, prometheus_variable
from grafana.dashboards.panels import AnyPanel, graph, number, rows_of
from grafana.dashboards.queries import LOCUST, SERVICE, quantiles

FILE = "load-test.json"
ENDPOINT = f'{LOCUST}, name=~"$endpoint"'

# The Errors table: one row per endpoint and kind of error, readable column names.
ERROR_TABLE: list[tuple[str, dict[str, Any]]] = [
    (
        "organize",
        {
            "excludeByName": {"Time": True},
            "indexByName": {"method": 0, "name": 1, "error": 2, "Value": 3},
            "renameByName": {
                "method": "Method",
                "name": "Endpoint",
                "error": "Error",
                "Value": "Errors in the time range",
            },
        },
    ),
    ("sortBy", {"sort": [{"field": "Errors in the time range", "desc": True}]}),
]


def build() -> dashboard.Dashboard:
    load: list[AnyPanel] = [
        number(
            "Running",
            "1 while the test spawns or runs, 0 otherwise.",
            "short",
            [("running", f"max(locust_running{{{LOCUST}}})")],
        ),
        graph(
            "Users and workers",
            "Simulated users, and processes generating load.",
            "short",
            [
                ("users", f"sum(locust_users{{{LOCUST}}})"),
                ("workers", f"sum(locust_workers{{{LOCUST}}})"),
            ],
            width=6,
        ),
        graph(
            "Total requests per second",
            "All endpoints, Locust's recent window.",
            "reqps",
            [("rps", f"sum(locust_requests_current_rps{{{LOCUST}}})")],
            width=6,
        ),
        number(
            "Failure ratio, last minute",
            "Failed over all requests in the last minute (the rule locust:failure_ratio:rate1m, "
            "which the alert watches). Empty while no request is made.",
            "percentunit",
            [("fail ratio", f"max(locust:failure_ratio:rate1m{{{LOCUST}}})")],
            alert="LoadTestFailureRatio",
        ),
        graph(
            "Requests per second by endpoint",
            "Each endpoint's request rate, from Locust's request counters.",
            "reqps",
            [
                (
                    "{{method}} {{name}}",
                    f"sum by (method, name) (rate(locust_requests_total{{{ENDPOINT}}}[1m]))",
                )
            ],
        ),
        graph(
            "Response time p50, p95, p99 by endpoint",
            "Locust's response time quantiles over its recent window.",
            "s",
            [
                (
                    f"p{float(q) * 100:g} {{{{method}}}} {{{{name}}}}",
                    f'locust_response_time_seconds{{{ENDPOINT}, quantile="{q}"}}',
                )
                for q in ("0.5", "0.95", "0.99")
            ],
        ),
    ]
    errors: list[AnyPanel] = [
        rows_of(
            "Errors",
            "Errors in the dashboard's time range by endpoint and kind: the HTTP status and its "
            "reason, or the exception's class.",
            "short",
            [
                (
                    "",
                    "sum by (method, name, error) "
                    f"(increase(locust_errors_total{{{ENDPOINT}}}[$__range])) > 0",
                )
            ],
            may_be_empty=True,
            transformations=ERROR_TABLE,
        ),
        graph(
            "Errors per second by kind",
            "Each kind of error's rate, all endpoints.",
            "short",
            [("{{error}}", f"sum by (error) (rate(locust_errors_total{{{ENDPOINT}}}[1m]))")],
            may_be_empty=True,
        ),
    ]
    service: list[AnyPanel] = [
        graph(
            "Service latency p50, p95, p99",
            "The service's own response time quantiles over the same window, so the load and "
            "the response sit side by side.",
            "s",
            quantiles(
                "histogram_quantile({q}, sum by (le) "
                f"(rate(http_request_duration_seconds_bucket{{{SERVICE}}}[1m])))",
                legend="service p{p}",
            ),
            alert="ServiceHighLatencyP95",
        ),
        graph(
            "Service requests per second by status",
            "What the service answered, by status class.",
            "reqps",
            [("{{status}}", f"sum by (status) (rate(http_requests_total{{{SERVICE}}}[1m]))")],
        ),
    ]
    return dashboard_of(
        "loadwatch-load-test",
        "loadwatch / Load test",
        "The Locust load test, read from the master's exporter, beside the service's latency "
        "over the same window.",
        [
            prometheus_variable("locust_job", "Locust job", "label_values(locust_running, job)"),
            prometheus_variable(
                "endpoint", "Endpoint", f"label_values(locust_requests_total{{{LOCUST}}}, name)"
            ),
            SERVICE_JOB,
        ],
        [("Load", load), ("Errors", errors), ("The service under the load", service)],
    )

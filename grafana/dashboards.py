"""The three loadwatch dashboards, written as compact specs and rendered to Grafana JSON.

    uv run python grafana/dashboards.py     # rewrites grafana/provisioning/dashboards/*.json

A test checks that the committed JSON is what this file renders, and runs every panel's
query against a live Prometheus.
"""

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "loadwatch-prometheus"}
OUT = Path(__file__).resolve().parent / "provisioning" / "dashboards"
SERVICE = 'job="rest_service"'


@dataclass
class Panel:
    title: str
    description: str
    unit: str
    targets: list[tuple[str, str]]  # (legend, expression)
    kind: str = "timeseries"
    width: int = 12
    may_be_empty: bool = False  # said in the description too; the query test allows it
    overrides: list[dict[str, Any]] = field(default_factory=list)
    # Where the matching alert rule fires (prometheus/alerts.yml): red from there on.
    # Without one, a stat stays green (Grafana's default would turn it red at 80).
    alert_at: float | None = None


@dataclass
class Variable:
    name: str
    query: str  # label_values(...)
    label: str


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel]
    variables: list[Variable] = field(default_factory=list)
    file: str = ""


def _field_defaults(panel: Panel) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if panel.alert_at is not None:
        steps.append({"color": "red", "value": panel.alert_at})
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
    }
    if panel.kind == "timeseries" and panel.alert_at is not None:
        defaults["custom"] = {"thresholdsStyle": {"mode": "dashed"}}
    return defaults


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    height = 8
    result: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description
        + (
            " It may be empty: that is normal when there is nothing to show."
            if panel.may_be_empty
            else ""
        ),
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": _field_defaults(panel), "overrides": panel.overrides},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                **({"format": "table", "instant": True} if panel.kind == "table" else {}),
            }
            for i, (legend, expr) in enumerate(panel.targets)
        ],
    }
    if panel.kind == "timeseries":
        result["options"] = {"legend": {"displayMode": "table", "placement": "bottom"}}
    return result


def _variable_json(variable: Variable) -> dict[str, Any]:
    return {
        "name": variable.name,
        "label": variable.label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": variable.query, "refId": "var"},
        "definition": variable.query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": "All", "value": "$__all"},
        "sort": 1,
    }


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels, x, y = [], 0, 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y = 0, y + 8
        panels.append(_panel_json(panel, panel_id, x, y))
        x += panel.width
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["loadwatch"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {"list": [_variable_json(v) for v in dashboard.variables]},
        "annotations": {"list": []},
        "panels": panels,
    }


def quantiles(expr: str) -> list[tuple[str, str]]:
    """p50, p95 and p99 of a histogram expression written with {q}."""
    return [
        (f"p{int(q * 100)} {{{{handler}}}}", expr.replace("{q}", str(q))) for q in (0.5, 0.95, 0.99)
    ]


def active_runs(width: int = 12) -> Panel:
    """Shown on the Service and the CPU runs dashboards alike."""
    return Panel(
        "Active runs",
        "Test runs in status running.",
        "short",
        [("active", f"max(loadwatch_test_runs_active{{{SERVICE}}})")],
        kind="stat",
        width=width,
    )


def _service() -> Dashboard:
    handler = f'{SERVICE}, handler=~"$handler"'
    requests = f"sum(rate(http_requests_total{{{handler}}}[1m]))"
    return Dashboard(
        uid="loadwatch-service",
        title="loadwatch / Service",
        file="service.json",
        description="The REST service: traffic, errors, latency, ingest, runs, logins, "
        "process and caches.",
        variables=[
            Variable(
                "handler", f"label_values(http_requests_total{{{SERVICE}}}, handler)", "Handler"
            )
        ],
        panels=[
            Panel(
                "Request rate by handler",
                "Requests per second to each route template.",
                "reqps",
                [("{{handler}}", f"sum by (handler) (rate(http_requests_total{{{handler}}}[1m]))")],
            ),
            Panel(
                "4xx and 5xx ratio",
                "Share of requests answered with a client error (4xx) or a server error (5xx).",
                "percentunit",
                [
                    (
                        "4xx",
                        f'(sum(rate(http_requests_total{{{handler}, status="4xx"}}[1m])) '
                        f"or vector(0)) / {requests}",
                    ),
                    (
                        "5xx",
                        f'(sum(rate(http_requests_total{{{handler}, status="5xx"}}[1m])) '
                        f"or vector(0)) / {requests}",
                    ),
                ],
                alert_at=0.05,  # ServiceHighErrorRatio (5xx)
            ),
            Panel(
                "Latency p50, p95, p99 by handler",
                "Response time quantiles from the request duration histogram, per route.",
                "s",
                quantiles(
                    "histogram_quantile({q}, sum by (le, handler) "
                    f"(rate(http_request_duration_seconds_bucket{{{handler}}}[1m])))"
                ),
                width=24,
                alert_at=0.5,  # ServiceHighLatencyP95
            ),
            Panel(
                "Requests in progress",
                "Requests being answered right now, all workers together.",
                "short",
                [("in progress", f"sum(http_requests_inprogress{{{SERVICE}}})")],
                width=8,
            ),
            Panel(
                "Samples ingested and duplicates per second",
                "CPU samples stored per second, and retried samples dropped as duplicates.",
                "short",
                [
                    ("ingested", f"sum(rate(loadwatch_samples_ingested_total{{{SERVICE}}}[1m]))"),
                    (
                        "duplicates",
                        f"sum(rate(loadwatch_samples_duplicates_total{{{SERVICE}}}[1m]))",
                    ),
                ],
                width=8,
            ),
            active_runs(width=8),
            Panel(
                "Logins by result",
                "Login attempts per second: success, failure (wrong password or user), "
                "throttled (too many failures).",
                "reqps",
                [
                    (
                        "{{result}}",
                        f"sum by (result) (rate(loadwatch_auth_logins_total{{{SERVICE}}}[5m]))",
                    )
                ],
                width=8,
            ),
            Panel(
                "Process CPU",
                "CPU used by the service process, as a share of one core.",
                "percentunit",
                [("{{instance}}", f"rate(process_cpu_seconds_total{{{SERVICE}}}[1m])")],
                width=8,
            ),
            Panel(
                "Process memory",
                "Resident memory of the service process.",
                "bytes",
                [("{{instance}}", f"process_resident_memory_bytes{{{SERVICE}}}")],
                width=8,
            ),
            Panel(
                "Cache hit ratio",
                "Share of cache lookups that found a live item, per cache.",
                "percentunit",
                [
                    (
                        "{{cache}}",
                        f"sum by (cache) (rate(loadwatch_cache_hits_total{{{SERVICE}}}[5m])) / "
                        f"(sum by (cache) (rate(loadwatch_cache_hits_total{{{SERVICE}}}[5m])) + "
                        f"sum by (cache) (rate(loadwatch_cache_misses_total{{{SERVICE}}}[5m])))",
                    )
                ],
                width=8,
            ),
            Panel(
                "Cache items",
                "Items each cache holds.",
                "short",
                [("{{cache}}", f"sum by (cache) (loadwatch_cache_items{{{SERVICE}}})")],
                width=8,
            ),
            Panel(
                "Cache evictions per second",
                "Items dropped on expiry or to make room, per cache.",
                "short",
                [
                    (
                        "{{cache}}",
                        f"sum by (cache) (rate(loadwatch_cache_evictions_total{{{SERVICE}}}[5m]))",
                    )
                ],
                width=8,
            ),
        ],
    )


def _load_test() -> Dashboard:
    return Dashboard(
        uid="loadwatch-load-test",
        title="loadwatch / Load test",
        file="load-test.json",
        description="The Locust load test, read from the master's exporter, beside the "
        "service's latency over the same window.",
        panels=[
            Panel(
                "Running",
                "1 while the test spawns or runs, 0 otherwise.",
                "short",
                [("running", 'max(locust_running{job="locust"})')],
                kind="stat",
                width=6,
            ),
            Panel(
                "Users and workers",
                "Simulated users, and processes generating load.",
                "short",
                [
                    ("users", 'sum(locust_users{job="locust"})'),
                    ("workers", 'sum(locust_workers{job="locust"})'),
                ],
                width=6,
            ),
            Panel(
                "Total requests per second",
                "All endpoints, Locust's recent window.",
                "reqps",
                [("rps", 'sum(locust_requests_current_rps{job="locust"})')],
                width=6,
            ),
            Panel(
                "Failure ratio",
                "Failed requests over all requests so far.",
                "percentunit",
                [("fail ratio", 'max(locust_fail_ratio{job="locust"})')],
                kind="stat",
                width=6,
                alert_at=0.01,  # LoadTestFailureRatio
            ),
            Panel(
                "Requests per second by endpoint",
                "Each endpoint's request rate, from Locust's request counters.",
                "reqps",
                [
                    (
                        "{{method}} {{name}}",
                        'sum by (method, name) (rate(locust_requests_total{job="locust"}[1m]))',
                    )
                ],
            ),
            Panel(
                "Response time p50, p95, p99 by endpoint",
                "Locust's response time quantiles over its recent window.",
                "s",
                [
                    (
                        f"p{float(q) * 100:g} {{{{method}}}} {{{{name}}}}",
                        f'locust_response_time_seconds{{job="locust", quantile="{q}"}}',
                    )
                    for q in ("0.5", "0.95", "0.99")
                ],
            ),
            Panel(
                "Errors",
                "Errors by endpoint and message, with their counts.",
                "short",
                [("", 'locust_errors{job="locust"}')],
                kind="table",
                may_be_empty=True,
            ),
            Panel(
                "Service latency p50, p95, p99",
                "The service's own response time quantiles over the same window, so the load "
                "and the response sit side by side.",
                "s",
                [
                    (
                        f"service p{int(q * 100)}",
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate(http_request_duration_seconds_bucket{{{SERVICE}}}[1m])))",
                    )
                    for q in (0.5, 0.95, 0.99)
                ],
            ),
        ],
    )


def _cpu_runs() -> Dashboard:
    run = 'run_id=~"$run_id", host=~"$host"'
    return Dashboard(
        uid="loadwatch-cpu-runs",
        title="loadwatch / CPU runs",
        file="cpu-runs.json",
        description="Live CPU of the runs that cpu-monitor records, against their thresholds.",
        variables=[
            Variable("run_id", "label_values(loadwatch_cpu_usage_percent, run_id)", "Run"),
            Variable(
                "host", 'label_values(loadwatch_cpu_usage_percent{run_id=~"$run_id"}, host)', "Host"
            ),
        ],
        panels=[
            Panel(
                "CPU by run",
                "The latest CPU sample of each running run, with the run's threshold as a "
                "dashed line.",
                "percent",
                [
                    ("{{host}} {{run_id}}", f"loadwatch_cpu_usage_percent{{{run}}}"),
                    ("threshold {{run_id}}", f"loadwatch_test_run_threshold_percent{{{run}}}"),
                ],
                width=24,
                overrides=[
                    {
                        "matcher": {"id": "byFrameRefID", "options": "B"},
                        "properties": [
                            {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
                            {"id": "color", "value": {"fixedColor": "red", "mode": "fixed"}},
                        ],
                    }
                ],
            ),
            Panel(
                "Time above the threshold",
                "Seconds each run spent above its threshold over the dashboard's time range "
                "(sampled every 5 s).",
                "s",
                [
                    (
                        "{{host}} {{run_id}}",
                        f"sum by (run_id, host) (count_over_time((loadwatch_cpu_usage_percent{{{run}}} > "
                        f"loadwatch_test_run_threshold_percent{{{run}}})[$__range:5s])) * 5",
                    )
                ],
                kind="stat",
                may_be_empty=True,
                alert_at=60,  # RunCPUAboveThreshold fires after 1 minute above
            ),
            active_runs(),
            Panel(
                "Runs ended, by status",
                "Runs that ended over the dashboard's time range: finished and aborted by "
                "their client, abandoned by the service when no client had written to them "
                "for RUN_SILENCE_TIMEOUT_SECONDS (a monitor killed, a machine lost).",
                "short",
                [
                    (
                        "{{status}}",
                        f"sum by (status) (increase(loadwatch_test_runs_total{{{SERVICE}}}[$__range]))",
                    )
                ],
                kind="stat",
            ),
        ],
    )


DASHBOARDS = [_service(), _load_test(), _cpu_runs()]


def write(out: Path = OUT) -> list[Path]:
    paths = []
    for dashboard in DASHBOARDS:
        path = out / dashboard.file
        path.write_text(json.dumps(render(dashboard), indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write():
        print(f"wrote {written}")
    sys.exit(0)

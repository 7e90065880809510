"""The three loadwatch dashboards, written as compact specs and rendered to Grafana JSON.

    uv run python grafana/dashboards.py     # rewrites grafana/provisioning/dashboards/*.json

A test checks that the committed JSON is what this file renders, runs every Prometheus
query (panels, variables, annotations) against a live Prometheus, and every Infinity query
against the live service.

Each dashboard has rows, a shared crosshair, links to the other two that keep the time
range and the variables, and the same annotations: Grafana's own, the load test running,
pacing changes and runs above their CPU threshold. Variables are named alike on every
dashboard when they mean the same thing (``service_job``), so that links carry them.
"""

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROMETHEUS_UID = "loadwatch-prometheus"
PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}  # the datasource variable
API = {"type": "yesoreyeram-infinity-datasource", "uid": "loadwatch-api"}
OUT = Path(__file__).resolve().parent / "provisioning" / "dashboards"
SERVICE = 'job=~"$service_job"'
LOCUST = 'job=~"$locust_job"'


@dataclass
class Column:
    """One column an Infinity query reads: its name in the answer, its label, its type."""

    selector: str
    text: str
    type: str = "number"  # or "timestamp", "string"


@dataclass
class ApiQuery:
    """An Infinity query of the service's API (the datasource holds the URL and token)."""

    url: str
    columns: list[Column]
    kind: str = "csv"  # or "json"
    root: str = ""  # where the rows are in a JSON answer

    def json(self, ref: str) -> dict[str, Any]:
        return {
            "refId": ref,
            "datasource": API,
            "type": self.kind,
            "source": "url",
            "parser": "backend",
            "format": "table",
            "url": self.url,
            "url_options": {"method": "GET", "data": ""},
            "root_selector": self.root,
            "columns": [
                {"selector": c.selector, "text": c.text, "type": c.type} for c in self.columns
            ],
            "filters": [],
        }


@dataclass
class Panel:
    title: str
    description: str
    unit: str
    targets: list[tuple[str, str]] = field(default_factory=list)  # (legend, PromQL)
    kind: str = "timeseries"
    width: int = 12
    may_be_empty: bool = False  # said in the description too; the query test allows it
    overrides: list[dict[str, Any]] = field(default_factory=list)
    # Where the matching alert rule fires (prometheus/alerts.yml): red from there on.
    # Without one, a stat stays green (Grafana's default would turn it red at 80).
    alert_at: float | None = None
    api: ApiQuery | None = None  # an Infinity query instead of PromQL targets
    transformations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Row:
    title: str
    panels: list[Panel]


@dataclass
class Variable:
    name: str
    query: str  # label_values(...)
    label: str


@dataclass
class ApiVariable:
    """A variable listed by the service's API (Infinity): __text and __value columns."""

    name: str
    label: str
    query: ApiQuery


@dataclass
class Annotation:
    name: str
    expr: str
    title: str
    color: str
    may_be_empty: bool = False


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    rows: list[Row]
    variables: list[Variable | ApiVariable] = field(default_factory=list)
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


def _targets(panel: Panel) -> list[dict[str, Any]]:
    if panel.api is not None:
        return [panel.api.json("A")]
    return [
        {
            "refId": chr(ord("A") + i),
            "datasource": PROMETHEUS,
            "expr": expr,
            "legendFormat": legend,
            **({"format": "table", "instant": True} if panel.kind == "table" else {}),
        }
        for i, (legend, expr) in enumerate(panel.targets)
    ]


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
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
        "datasource": API if panel.api is not None else PROMETHEUS,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": _field_defaults(panel), "overrides": panel.overrides},
        "options": {},
        "targets": _targets(panel),
        "transformations": panel.transformations,
    }
    if panel.kind == "timeseries":
        result["options"] = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["mean", "max", "lastNotNull"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return result


def _variable_json(variable: Variable | ApiVariable) -> dict[str, Any]:
    if isinstance(variable, ApiVariable):
        return {
            "name": variable.name,
            "label": variable.label,
            "type": "query",
            "datasource": API,
            "query": {
                "queryType": "infinity",
                "infinityQuery": variable.query.json("variable"),
                "query": "",
            },
            "refresh": 2,
            "includeAll": False,
            "multi": False,
            "current": {},
        }
    return {
        "name": variable.name,
        "label": variable.label,
        "type": "query",
        "datasource": PROMETHEUS,
        "query": {"query": variable.query, "refId": "var"},
        "definition": variable.query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": "All", "value": "$__all"},
        "sort": 1,
    }


DATASOURCE_VARIABLE = {
    "name": "datasource",
    "label": "Prometheus",
    "type": "datasource",
    "query": "prometheus",
    "current": {"selected": True, "text": "Prometheus", "value": PROMETHEUS_UID},
    "hide": 0,
    "refresh": 1,
}

ANNOTATIONS = [
    Annotation(
        "Load test running",
        "max(locust_running) > 0",
        "Load test running",
        "rgba(31, 120, 193, 0.4)",
    ),
    Annotation(
        "Pacing changes",
        "max(changes(locust_pacing_seconds[30s])) > 0",
        "Pacing changed",
        "orange",
        may_be_empty=True,
    ),
    Annotation(
        "CPU above threshold",
        f"max by (run_id, host) (loadwatch_cpu_usage_percent{{{SERVICE}}} "
        f"> loadwatch_test_run_threshold_percent{{{SERVICE}}})",
        "{{host}} run {{run_id}} above its CPU threshold",
        "red",
        may_be_empty=True,
    ),
]


def _annotations_json() -> list[dict[str, Any]]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return [
        builtin,
        *(
            {
                "name": a.name,
                "datasource": PROMETHEUS,
                "enable": True,
                "expr": a.expr,
                "iconColor": a.color,
                "step": "15s",
                "titleFormat": a.title,
                "textFormat": "",
                "tagKeys": "",
                "useValueForTime": False,
            }
            for a in ANNOTATIONS
        ),
    ]


LINKS = [
    {
        "type": "dashboards",
        "title": "loadwatch",
        "tags": ["loadwatch"],
        "asDropdown": False,
        "includeVars": True,
        "keepTime": True,
        "targetBlank": False,
    }
]


def render(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in dashboard.rows:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        x = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel_json(panel, len(panels) + 1, x, y))
            x += panel.width
        y += 8
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["loadwatch"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,  # the crosshair follows the mouse on every panel
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "links": LINKS,
        "templating": {
            "list": [DATASOURCE_VARIABLE, *(_variable_json(v) for v in dashboard.variables)]
        },
        "annotations": {"list": _annotations_json()},
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


SERVICE_JOB = Variable(
    "service_job", "label_values(loadwatch_test_runs_active, job)", "Service job"
)


def _service() -> Dashboard:
    handler = f'{SERVICE}, handler=~"$handler"'
    requests = f"sum(rate(http_requests_total{{{handler}}}[1m]))"
    return Dashboard(
        uid="loadwatch-service",
        title="loadwatch / Service",
        file="service.json",
        description="The REST service: traffic, errors, latency, sizes, ingest, runs, logins, "
        "process and caches.",
        variables=[
            SERVICE_JOB,
            Variable(
                "handler", f"label_values(http_requests_total{{{SERVICE}}}, handler)", "Handler"
            ),
        ],
        rows=[
            Row(
                "Traffic",
                [
                    Panel(
                        "Request rate by handler",
                        "Requests per second to each route template.",
                        "reqps",
                        [
                            (
                                "{{handler}}",
                                f"sum by (handler) (rate(http_requests_total{{{handler}}}[1m]))",
                            )
                        ],
                    ),
                    Panel(
                        "4xx and 5xx ratio",
                        "Share of requests answered with a client error (4xx) or a server "
                        "error (5xx).",
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
                        "Request body size, mean by handler",
                        "Bytes per request body (Content-Length), from http_request_size_bytes.",
                        "bytes",
                        [
                            (
                                "{{handler}}",
                                f"sum by (handler) (rate(http_request_size_bytes_sum{{{handler}}}"
                                f"[1m])) / sum by (handler) "
                                f"(rate(http_request_size_bytes_count{{{handler}}}[1m]))",
                            )
                        ],
                        width=8,
                    ),
                    Panel(
                        "Response body size, mean by handler",
                        "Bytes per response body, from http_response_size_bytes.",
                        "bytes",
                        [
                            (
                                "{{handler}}",
                                f"sum by (handler) (rate(http_response_size_bytes_sum{{{handler}}}"
                                f"[1m])) / sum by (handler) "
                                f"(rate(http_response_size_bytes_count{{{handler}}}[1m]))",
                            )
                        ],
                        width=8,
                    ),
                ],
            ),
            Row(
                "Ingest, runs and logins",
                [
                    Panel(
                        "Samples ingested and duplicates per second",
                        "Samples stored per second, and retried samples dropped as duplicates.",
                        "short",
                        [
                            (
                                "ingested",
                                f"sum(rate(loadwatch_samples_ingested_total{{{SERVICE}}}[1m]))",
                            ),
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
                                f"sum by (result) "
                                f"(rate(loadwatch_auth_logins_total{{{SERVICE}}}[5m]))",
                            )
                        ],
                        width=8,
                    ),
                ],
            ),
            Row(
                "Process and caches",
                [
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
                                f"sum by (cache) (rate(loadwatch_cache_hits_total{{{SERVICE}}}"
                                f"[5m])) / (sum by (cache) "
                                f"(rate(loadwatch_cache_hits_total{{{SERVICE}}}[5m])) + "
                                f"sum by (cache) "
                                f"(rate(loadwatch_cache_misses_total{{{SERVICE}}}[5m])))",
                            )
                        ],
                        width=8,
                    ),
                    Panel(
                        "Cache items",
                        "Items each cache holds.",
                        "short",
                        [("{{cache}}", f"sum by (cache) (loadwatch_cache_items{{{SERVICE}}})")],
                        width=12,
                    ),
                    Panel(
                        "Cache evictions per second",
                        "Items dropped on expiry or to make room, per cache.",
                        "short",
                        [
                            (
                                "{{cache}}",
                                f"sum by (cache) "
                                f"(rate(loadwatch_cache_evictions_total{{{SERVICE}}}[5m]))",
                            )
                        ],
                        width=12,
                    ),
                ],
            ),
        ],
    )


# The Errors table: one row per endpoint and kind of error, readable column names.
ERROR_TABLE = [
    {
        "id": "organize",
        "options": {
            "excludeByName": {"Time": True},
            "indexByName": {"method": 0, "name": 1, "error": 2, "Value": 3},
            "renameByName": {
                "method": "Method",
                "name": "Endpoint",
                "error": "Error",
                "Value": "Errors in the time range",
            },
        },
    },
    {"id": "sortBy", "options": {"sort": [{"field": "Errors in the time range", "desc": True}]}},
]


def _load_test() -> Dashboard:
    endpoint = f'{LOCUST}, name=~"$endpoint"'
    return Dashboard(
        uid="loadwatch-load-test",
        title="loadwatch / Load test",
        file="load-test.json",
        description="The Locust load test, read from the master's exporter, beside the "
        "service's latency over the same window.",
        variables=[
            Variable("locust_job", "label_values(locust_running, job)", "Locust job"),
            Variable(
                "endpoint", f"label_values(locust_requests_total{{{LOCUST}}}, name)", "Endpoint"
            ),
            SERVICE_JOB,
        ],
        rows=[
            Row(
                "Load",
                [
                    Panel(
                        "Running",
                        "1 while the test spawns or runs, 0 otherwise.",
                        "short",
                        [("running", f"max(locust_running{{{LOCUST}}})")],
                        kind="stat",
                        width=6,
                    ),
                    Panel(
                        "Users and workers",
                        "Simulated users, and processes generating load.",
                        "short",
                        [
                            ("users", f"sum(locust_users{{{LOCUST}}})"),
                            ("workers", f"sum(locust_workers{{{LOCUST}}})"),
                        ],
                        width=6,
                    ),
                    Panel(
                        "Total requests per second",
                        "All endpoints, Locust's recent window.",
                        "reqps",
                        [("rps", f"sum(locust_requests_current_rps{{{LOCUST}}})")],
                        width=6,
                    ),
                    Panel(
                        "Failure ratio, last minute",
                        "Failed over all requests in the last minute (the rule "
                        "locust:failure_ratio:rate1m, which the alert watches). Empty while no "
                        "request is made.",
                        "percentunit",
                        [("fail ratio", f"max(locust:failure_ratio:rate1m{{{LOCUST}}})")],
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
                                f"sum by (method, name) (rate(locust_requests_total{{{endpoint}}}"
                                f"[1m]))",
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
                                f'locust_response_time_seconds{{{endpoint}, quantile="{q}"}}',
                            )
                            for q in ("0.5", "0.95", "0.99")
                        ],
                    ),
                ],
            ),
            Row(
                "Errors",
                [
                    Panel(
                        "Errors",
                        "Errors in the dashboard's time range by endpoint and kind: the HTTP "
                        "status and its reason, or the exception's class.",
                        "short",
                        [
                            (
                                "",
                                f"sum by (method, name, error) "
                                f"(increase(locust_errors_total{{{endpoint}}}[$__range])) > 0",
                            )
                        ],
                        kind="table",
                        may_be_empty=True,
                        transformations=ERROR_TABLE,
                    ),
                    Panel(
                        "Errors per second by kind",
                        "Each kind of error's rate, all endpoints.",
                        "short",
                        [
                            (
                                "{{error}}",
                                f"sum by (error) (rate(locust_errors_total{{{endpoint}}}[1m]))",
                            )
                        ],
                        may_be_empty=True,
                    ),
                ],
            ),
            Row(
                "The service under the load",
                [
                    Panel(
                        "Service latency p50, p95, p99",
                        "The service's own response time quantiles over the same window, so "
                        "the load and the response sit side by side.",
                        "s",
                        [
                            (
                                f"service p{int(q * 100)}",
                                f"histogram_quantile({q}, sum by (le) "
                                f"(rate(http_request_duration_seconds_bucket{{{SERVICE}}}[1m])))",
                            )
                            for q in (0.5, 0.95, 0.99)
                        ],
                        alert_at=0.5,  # ServiceHighLatencyP95
                    ),
                    Panel(
                        "Service requests per second by status",
                        "What the service answered, by status class.",
                        "reqps",
                        [
                            (
                                "{{status}}",
                                f"sum by (status) (rate(http_requests_total{{{SERVICE}}}[1m]))",
                            )
                        ],
                    ),
                ],
            ),
        ],
    )


RUN = f'{SERVICE}, run_id=~"$run_id", host=~"$host"'


def mean_of_every_sample(figure: str, legend: str) -> tuple[str, str]:
    """The exact mean of a figure's samples over the last minute, from the summary the
    service exports per running run (however fast the samples come)."""
    return (
        legend,
        f"rate(loadwatch_{figure}_samples_sum{{{RUN}}}[1m]) "
        f"/ rate(loadwatch_{figure}_samples_count{{{RUN}}}[1m])",
    )


def _live(
    title: str,
    description: str,
    unit: str,
    figures: list[tuple[str, str]],
    may_be_empty: bool = False,
) -> Panel:
    return Panel(
        title,
        description + " The mean of every sample over each minute, per running run.",
        unit,
        [mean_of_every_sample(figure, f"{{{{host}}}} {label}") for figure, label in figures],
        may_be_empty=may_be_empty,
    )


def _run_columns(*figures: tuple[str, str]) -> list[Column]:
    return [Column("timestamp", "Time", "timestamp"), *(Column(s, t) for s, t in figures)]


def _finished(title: str, description: str, unit: str, figures: list[tuple[str, str]]) -> Panel:
    return Panel(
        f"Run $run: {title}",
        description + " Every sample of the chosen run, read from its CSV export.",
        unit,
        api=ApiQuery("/runs/${run}/samples.csv", _run_columns(*figures)),
    )


THRESHOLD_LINE = [
    {
        "matcher": {"id": "byFrameRefID", "options": "B"},
        "properties": [
            {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
            {"id": "color", "value": {"fixedColor": "red", "mode": "fixed"}},
        ],
    }
]


def _cpu_runs() -> Dashboard:
    return Dashboard(
        uid="loadwatch-cpu-runs",
        title="loadwatch / CPU runs",
        file="cpu-runs.json",
        description="What cpu-monitor records: the running runs live from Prometheus, and any "
        "run (finished ones too) at full resolution from the service's API.",
        variables=[
            SERVICE_JOB,
            Variable(
                "run_id",
                f"label_values(loadwatch_cpu_usage_percent{{{SERVICE}}}, run_id)",
                "Running run",
            ),
            Variable(
                "host", 'label_values(loadwatch_cpu_usage_percent{run_id=~"$run_id"}, host)', "Host"
            ),
            ApiVariable(
                "run",
                "Run (full resolution)",
                ApiQuery(
                    "/runs?limit=100",
                    [Column("name", "__text", "string"), Column("id", "__value", "string")],
                    kind="json",
                    root="items",
                ),
            ),
        ],
        rows=[
            Row(
                "Running runs (Prometheus)",
                [
                    Panel(
                        "CPU by run",
                        "Each running run's latest CPU sample, the exact mean of every sample "
                        "over each minute (not only the scraped ones), and its threshold as a "
                        "dashed line.",
                        "percent",
                        [
                            ("{{host}} {{run_id}} latest", f"loadwatch_cpu_usage_percent{{{RUN}}}"),
                            (
                                "threshold {{run_id}}",
                                f"loadwatch_test_run_threshold_percent{{{RUN}}}",
                            ),
                            mean_of_every_sample("cpu_usage_percent", "{{host}} {{run_id}} mean"),
                        ],
                        width=24,
                        overrides=THRESHOLD_LINE,
                    ),
                    Panel(
                        "Time above the threshold",
                        "Seconds each run spent above its threshold over the dashboard's time "
                        "range (sampled every 5 s).",
                        "s",
                        [
                            (
                                "{{host}} {{run_id}}",
                                f"sum by (run_id, host) (count_over_time("
                                f"(loadwatch_cpu_usage_percent{{{RUN}}} > "
                                f"loadwatch_test_run_threshold_percent{{{RUN}}})"
                                f"[$__range:5s])) * 5",
                            )
                        ],
                        kind="stat",
                        width=6,
                        may_be_empty=True,
                        alert_at=60,  # RunCPUAboveThreshold fires after 1 minute above
                    ),
                    Panel(
                        "Peak CPU",
                        "The highest CPU sample of each running run so far (every sample).",
                        "percent",
                        [("{{host}} {{run_id}}", f"loadwatch_cpu_usage_percent_max{{{RUN}}}")],
                        kind="stat",
                        width=6,
                    ),
                    active_runs(width=6),
                    Panel(
                        "Runs ended, by status",
                        "Runs that ended over the dashboard's time range: finished and aborted "
                        "by their client, abandoned by the service when no client had written "
                        "to them for RUN_SILENCE_TIMEOUT_SECONDS (a monitor killed, a machine "
                        "lost).",
                        "short",
                        [
                            (
                                "{{status}}",
                                f"sum by (status) "
                                f"(increase(loadwatch_test_runs_total{{{SERVICE}}}[$__range]))",
                            )
                        ],
                        kind="stat",
                        width=6,
                    ),
                    _live(
                        "CPU user, system, iowait, steal",
                        "Where the CPU goes: iowait is time waiting on disks, steal is time "
                        "the hypervisor gave to other machines.",
                        "percent",
                        [
                            ("cpu_user_percent", "user"),
                            ("cpu_system_percent", "system"),
                            ("cpu_iowait_percent", "iowait"),
                            ("cpu_steal_percent", "steal"),
                        ],
                    ),
                    _live(
                        "Memory and swap used",
                        "Memory used (total less available) and swap used, in percent.",
                        "percent",
                        [("memory_used_percent", "memory"), ("swap_used_percent", "swap")],
                    ),
                    _live(
                        "Memory available",
                        "Memory the machine can still give without swapping.",
                        "bytes",
                        [("memory_available_bytes", "available")],
                    ),
                    _live("Load 1m", "The 1-minute load average.", "short", [("load_1m", "load")]),
                    _live(
                        "Disk read and write",
                        "Bytes per second read from and written to all disks.",
                        "Bps",
                        [
                            ("disk_read_bytes_per_second", "read"),
                            ("disk_write_bytes_per_second", "write"),
                        ],
                    ),
                    _live(
                        "Network received and sent",
                        "Bytes per second over every interface but loopback.",
                        "Bps",
                        [
                            ("network_receive_bytes_per_second", "received"),
                            ("network_transmit_bytes_per_second", "sent"),
                        ],
                    ),
                    _live(
                        "Process CPU",
                        "The watched process tree's CPU (cpu-monitor --pid or --process), in "
                        "percent of one core: 200 is two cores busy.",
                        "percent",
                        [("process_cpu_percent", "process")],
                        may_be_empty=True,
                    ),
                    _live(
                        "Process memory",
                        "The watched process tree's resident memory.",
                        "bytes",
                        [("process_rss_bytes", "RSS")],
                        may_be_empty=True,
                    ),
                ],
            ),
            Row(
                "One run at full resolution (the API)",
                [
                    _finished(
                        "CPU",
                        "Total CPU and its split.",
                        "percent",
                        [
                            ("cpu_percent", "CPU"),
                            ("cpu_user_percent", "user"),
                            ("cpu_system_percent", "system"),
                            ("cpu_iowait_percent", "iowait"),
                            ("cpu_steal_percent", "steal"),
                        ],
                    ),
                    _finished(
                        "memory",
                        "Memory and swap used.",
                        "percent",
                        [("memory_used_percent", "memory"), ("swap_used_percent", "swap")],
                    ),
                    _finished(
                        "disk and network",
                        "Disk and network bytes per second.",
                        "Bps",
                        [
                            ("disk_read_bytes_per_second", "disk read"),
                            ("disk_write_bytes_per_second", "disk write"),
                            ("network_receive_bytes_per_second", "network received"),
                            ("network_transmit_bytes_per_second", "network sent"),
                        ],
                    ),
                    _finished(
                        "process",
                        "The watched process tree's CPU (percent of one core); empty for a run "
                        "recorded without --pid or --process.",
                        "percent",
                        [("process_cpu_percent", "process CPU")],
                    ),
                    Panel(
                        "Run $run: events",
                        "The run's events: threshold crossings (CPU and memory), load test "
                        "phases, deploys, notes.",
                        "short",
                        kind="table",
                        width=24,
                        api=ApiQuery(
                            "/runs/${run}/events?limit=1000",
                            [
                                Column("timestamp", "Time", "timestamp"),
                                Column("category", "Category", "string"),
                                Column("name", "Event", "string"),
                            ],
                            kind="json",
                            root="items",
                        ),
                    ),
                ],
            ),
        ],
    )


DASHBOARDS = [_service(), _load_test(), _cpu_runs()]
PANEL_PAGE = Path(__file__).resolve().parent.parent / "docs" / "dashboards.md"
TABLE_START = "<!-- panels: written by grafana/dashboards.py -->"
TABLE_END = "<!-- /panels -->"


def panel_table() -> str:
    """Every panel of every dashboard as a Markdown table: docs/dashboards.md's picture of them
    (Grafana does not run here to take a real one)."""
    lines = [
        "| dashboard | row | panel | kind | unit | reads |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for dashboard in DASHBOARDS:
        for row in dashboard.rows:
            for panel in row.panels:
                source = (
                    f"API `{panel.api.url}`"
                    if panel.api is not None
                    else ", ".join(sorted({_series(expr) for _, expr in panel.targets}))
                )
                red = f", red from {panel.alert_at:g}" if panel.alert_at is not None else ""
                lines.append(
                    f"| {dashboard.title.split(' / ')[1]} | {row.title} | {panel.title} | "
                    f"{panel.kind} | {panel.unit}{red} | {source} |"
                )
    return "\n".join(lines)


def _series(expr: str) -> str:
    """The first series an expression reads, for the table."""
    for word in expr.replace("(", " ").split():
        name = word.split("{")[0]
        if name.startswith(("loadwatch_", "http_", "locust", "process_")):
            return f"`{name.removesuffix('_sum').removesuffix('_bucket')}`"
    return "`" + expr.split("{")[0] + "`"


def write(out: Path = OUT, page: Path = PANEL_PAGE) -> list[Path]:
    paths = []
    for dashboard in DASHBOARDS:
        path = out / dashboard.file
        path.write_text(json.dumps(render(dashboard), indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    text = page.read_text(encoding="utf-8")
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    page.write_text(text[:start] + "\n" + panel_table() + "\n" + text[end:], encoding="utf-8")
    return [*paths, page]


if __name__ == "__main__":
    for written in write():
        print(f"wrote {written}")
    sys.exit(0)

"""The Load tests dashboard: every load test loadkit recorded into the service
(``--results-url``) with its verdict and a link to its report, an endpoint's p50, p95 and
p99 over the runs with their intervals and change points, and one run's load beside the
machine under test (its cpu-monitor run) on one timeline. Everything is read from the
service's API (the Infinity datasource, with Grafana's read token)."""

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, VariableHide

from grafana.dashboards.frame import api_annotation, api_variable, dashboard_of
from grafana.dashboards.panels import AnyPanel, graph, rows_of
from grafana.dashboards.queries import Column, Infinity

FILE = "load-tests.json"
TREND = "/load-tests/trend?endpoint=${endpoint:percentencode}"
SAMPLES = "/runs/${monitor_run}/samples.csv"


def _interval(quantile: str) -> list[Column]:
    return [
        Column(quantile, quantile),
        Column(f"{quantile}_low", f"{quantile} 95 % low"),
        Column(f"{quantile}_high", f"{quantile} 95 % high"),
    ]


def _machine(title: str, description: str, unit: str, figures: list[tuple[str, str]]) -> AnyPanel:
    columns = [Column("timestamp", "Time", "timestamp"), *(Column(s, t) for s, t in figures)]
    return graph(
        f"Run $load_test: machine under test, {title}",
        description + " Every sample of the cpu-monitor run that recorded the machine under "
        "test during the load test (loadkit --monitor-tag, cpu-monitor --tag).",
        unit,
        api=Infinity(SAMPLES, columns),
        width=8,
    )


def _runs_table() -> AnyPanel:
    panel = rows_of(
        "Load tests and their verdicts",
        "Every load test recorded into the service, newest last: its verdict against its "
        "baseline, and its report (the id links to the page).",
        "short",
        width=24,
        api=Infinity(
            "/load-tests?limit=1000",
            [
                Column("started", "Started", "timestamp"),
                Column("label", "Label", "string"),
                Column("status", "Status", "string"),
                Column("users", "Users"),
                Column("req_per_s", "req/s"),
                Column("timings", "Timings"),
                Column("verdict", "Verdict", "string"),
                Column("id", "Report"),
            ],
            kind="json",
        ),
    )
    link = {
        "title": "The run's report",
        "url": "${service_url}/load-tests/runs/${__value.raw}/report",
        "targetBlank": True,
    }
    panel.override_by_name("Report", [DynamicConfigValue(id_val="links", value=[link])])
    return panel


def build() -> dashboard.Dashboard:
    runs: list[AnyPanel] = [_runs_table()]
    trend: list[AnyPanel] = [
        graph(
            f"$endpoint: {quantile} over the runs",
            f"The {quantile} of each run that kept its estimates, with its 95 % interval "
            "(which respects the autocorrelation of the run's timings); change points are "
            "the annotations.",
            "ms",
            api=Infinity(
                TREND, [Column("time", "Time", "timestamp"), *_interval(quantile)], kind="json"
            ),
            width=8,
        )
        for quantile in ("p50", "p95", "p99")
    ]
    one_run: list[AnyPanel] = [
        graph(
            "Run $load_test: requests per second",
            "The load: requests the load generators made in each second of the run.",
            "reqps",
            api=Infinity(
                "/load-tests/runs/${load_test}/timeline",
                [Column("time", "Time", "timestamp"), Column("requests", "requests")],
                kind="json",
            ),
            width=24,
        ),
        _machine(
            "CPU",
            "Its CPU and where it goes.",
            "percent",
            [
                ("cpu_percent", "CPU"),
                ("cpu_user_percent", "user"),
                ("cpu_system_percent", "system"),
            ],
        ),
        _machine("memory", "Its memory used.", "percent", [("memory_used_percent", "memory")]),
        _machine(
            "network",
            "Its network bytes per second.",
            "Bps",
            [
                ("network_receive_bytes_per_second", "received"),
                ("network_transmit_bytes_per_second", "sent"),
            ],
        ),
    ]
    service_url = (
        dashboard.TextBoxVariable("service_url")
        .label("Service URL (for links)")
        .default_value("http://localhost:8000")
        .hide(VariableHide.HIDE_VARIABLE)
    )
    return dashboard_of(
        "loadwatch-load-tests",
        "loadwatch / Load tests",
        "Every load test loadkit recorded into the service: verdicts, each endpoint's trend "
        "with its change points, and one run's load beside the machine under test.",
        [
            service_url,
            api_variable(
                "endpoint",
                "Endpoint",
                Infinity(
                    "/load-tests/endpoints",
                    [Column("id", "__text", "string"), Column("id", "__value", "string")],
                    kind="json",
                ),
            ),
            api_variable(
                "load_test",
                "Load test",
                Infinity(
                    "/load-tests?limit=1000",
                    [Column("label", "__text", "string"), Column("id", "__value")],
                    kind="json",
                ),
            ),
            api_variable(
                "monitor_run",
                "Machine under test (cpu-monitor run)",
                Infinity(
                    "/load-tests/runs/${load_test}/monitor-runs",
                    [Column("name", "__text", "string"), Column("id", "__value", "string")],
                    kind="json",
                ),
            ),
        ],
        [
            ("Runs", runs),
            ("Trend of $endpoint", trend),
            ("One run: the load and the machine under test", one_run),
        ],
        [
            api_annotation(
                "Change points",
                Infinity(
                    "/load-tests/change-points?endpoint=${endpoint:percentencode}",
                    [Column("time", "time", "timestamp"), Column("text", "text", "string")],
                    kind="json",
                ),
                "purple",
            )
        ],
    )

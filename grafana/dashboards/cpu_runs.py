"""The CPU runs dashboard: what cpu-monitor records, the running runs live from
Prometheus, and any run (finished ones too) at full resolution from the service's API."""

from grafana_foundation_sdk.builders import dashboard, timeseries

from grafana.dashboards.frame import (
    SERVICE_JOB,
    active_runs,
    api_variable,
    dashboard_of,
    prometheus_variable,
)
from grafana.dashboards.panels import AnyPanel, graph, number, rows_of
from grafana.dashboards.queries import RUN, SERVICE, Column, Infinity, mean_of_every_sample

FILE = "cpu-runs.json"


def _live(
    title: str,
    description: str,
    unit: str,
    figures: list[tuple[str, str]],
    may_be_empty: bool = False,
) -> timeseries.Panel:
    """A figure of the running runs: the mean of every sample over each minute."""
    return graph(
        title,
        description + " The mean of every sample over each minute, per running run.",
        unit,
        [mean_of_every_sample(figure, f"{{{{host}}}} {label}") for figure, label in figures],
        may_be_empty=may_be_empty,
    )


def _finished(
    title: str, description: str, unit: str, figures: list[tuple[str, str]]
) -> timeseries.Panel:
    """Figures of the chosen run, every sample, from its CSV export."""
    columns = [Column("timestamp", "Time", "timestamp"), *(Column(s, t) for s, t in figures)]
    return graph(
        f"Run $run: {title}",
        description + " Every sample of the chosen run, read from its CSV export.",
        unit,
        api=Infinity("/runs/${run}/samples.csv", columns),
    )


def build() -> dashboard.Dashboard:
    running: list[AnyPanel] = [
        graph(
            "CPU by run",
            "Each running run's latest CPU sample, the exact mean of every sample over each "
            "minute (not only the scraped ones), and its threshold as a dashed line.",
            "percent",
            [
                ("{{host}} {{run_id}} latest", f"loadwatch_cpu_usage_percent{{{RUN}}}"),
                ("threshold {{run_id}}", f"loadwatch_test_run_threshold_percent{{{RUN}}}"),
                mean_of_every_sample("cpu_usage_percent", "{{host}} {{run_id}} mean"),
            ],
            width=24,
            dashed_query="B",
        ),
        number(
            "Time above the threshold",
            "Seconds each run spent above its threshold over the dashboard's time range "
            "(sampled every 5 s).",
            "s",
            [
                (
                    "{{host}} {{run_id}}",
                    f"sum by (run_id, host) (count_over_time("
                    f"(loadwatch_cpu_usage_percent{{{RUN}}} > "
                    f"loadwatch_test_run_threshold_percent{{{RUN}}})[$__range:5s])) * 5",
                )
            ],
            may_be_empty=True,
            alert="RunCPUAboveThreshold",
        ),
        number(
            "Peak CPU",
            "The highest CPU sample of each running run so far (every sample).",
            "percent",
            [("{{host}} {{run_id}}", f"loadwatch_cpu_usage_percent_max{{{RUN}}}")],
        ),
        active_runs(width=6),
        number(
            "Runs ended, by status",
            "Runs that ended over the dashboard's time range: finished and aborted by their "
            "client, abandoned by the service when no client had written to them for "
            "RUN_SILENCE_TIMEOUT_SECONDS (a monitor killed, a machine lost).",
            "short",
            [
                (
                    "{{status}}",
                    f"sum by (status) (increase(loadwatch_test_runs_total{{{SERVICE}}}[$__range]))",
                )
            ],
        ),
        _live(
            "CPU user, system, iowait, steal",
            "Where the CPU goes: iowait is time waiting on disks, steal is time the hypervisor "
            "gave to other machines.",
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
            [("disk_read_bytes_per_second", "read"), ("disk_write_bytes_per_second", "write")],
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
            "The watched process tree's CPU (cpu-monitor --pid or --process), in percent of "
            "one core: 200 is two cores busy.",
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
    ]
    one_run: list[AnyPanel] = [
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
            "The watched process tree's CPU (percent of one core); empty for a run recorded "
            "without --pid or --process.",
            "percent",
            [("process_cpu_percent", "process CPU")],
        ),
        rows_of(
            "Run $run: events",
            "The run's events: threshold crossings (CPU and memory), load test phases, "
            "deploys, notes.",
            "short",
            width=24,
            api=Infinity(
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
    ]
    return dashboard_of(
        "loadwatch-cpu-runs",
        "loadwatch / CPU runs",
        "What cpu-monitor records: the running runs live from Prometheus, and any run "
        "(finished ones too) at full resolution from the service's API.",
        [
            SERVICE_JOB,
            prometheus_variable(
                "run_id",
                "Running run",
                f"label_values(loadwatch_cpu_usage_percent{{{SERVICE}}}, run_id)",
            ),
            prometheus_variable(
                "host", "Host", 'label_values(loadwatch_cpu_usage_percent{run_id=~"$run_id"}, host)'
            ),
            api_variable(
                "run",
                "Run (full resolution)",
                Infinity(
                    "/runs?limit=100",
                    [Column("name", "__text", "string"), Column("id", "__value", "string")],
                    kind="json",
                    root="items",
                ),
            ),
        ],
        [("Running runs (Prometheus)", running), ("One run at full resolution (the API)", one_run)],
    )

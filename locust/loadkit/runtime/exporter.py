"""A Prometheus exporter inside the Locust master (or the single local process).

It reads the runner's own stats at scrape time, so it needs no separate container
scraping the web UI, and it serves in headless and web-UI mode alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import gevent
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadkit.core.defaults import EXPORTER_PORT
from loadkit.runtime import state

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)

QUANTILES = (0.5, 0.95, 0.99)
# requests' "500 Server Error: ...", or a failure text ending in a status ("login: 500",
# "got 503", "status 404").
_STATUS = re.compile(r"\b([1-5]\d\d) (?:Client|Server) Error|(?::|got|status)\s*([1-5]\d\d)\b")
_CLASS = re.compile(r"^\s*([A-Za-z_][\w.]{0,63})\(")


def error_label(error: object) -> str:
    """An error as a label from a bounded set: ``HTTP <status> <reason>`` when it names a
    status, else its exception class, else ``other``. Locust's own text carries response
    bodies, URLs and user names: as a label it would make a series per distinct text."""
    text = error if isinstance(error, str) else repr(error)
    status = _STATUS.search(text)
    if status:
        code = int(status.group(1) or status.group(2))
        try:
            return f"HTTP {code} {HTTPStatus(code).phrase}"
        except ValueError:
            return f"HTTP {code}"
    name = _CLASS.match(text)
    return name.group(1).rsplit(".", 1)[-1] if name else "other"


class LocustCollector(Collector):
    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def collect(self) -> Iterable[Metric]:
        from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner

        runner = self.environment.runner
        if runner is None:
            return []
        stats = runner.stats
        running = runner.state in (STATE_SPAWNING, STATE_RUNNING)
        workers = runner.worker_count if isinstance(runner, MasterRunner) else 1
        families: list[Metric] = [
            GaugeMetricFamily("locust_users", "Simulated users now.", value=runner.user_count),
            GaugeMetricFamily(
                "locust_workers",
                "Processes generating load: connected workers, or 1 in local mode.",
                value=workers,
            ),
            GaugeMetricFamily(
                "locust_running", "1 while the test spawns or runs, else 0.", value=int(running)
            ),
            GaugeMetricFamily(
                "locust_requests_current_rps",
                "Requests per second, all endpoints, recent window.",
                value=stats.total.current_rps,
            ),
            GaugeMetricFamily(
                "locust_fail_ratio",
                "Failed / all requests since the test started (for the recent window, see the "
                "locust:failure_ratio:rate1m rule).",
                value=stats.total.fail_ratio,
            ),
            GaugeMetricFamily(
                "locust_pacing_seconds",
                "Seconds between the starts of a user's iterations (the dashboards mark changes).",
                value=state.kit(self.environment).pacing.seconds,
            ),
        ]
        requests = CounterMetricFamily(
            "locust_requests", "Requests by endpoint.", labels=["method", "name"]
        )
        failures = CounterMetricFamily(
            "locust_failures", "Failed requests by endpoint.", labels=["method", "name"]
        )
        latency = GaugeMetricFamily(
            "locust_response_time_seconds",
            "Response time quantiles by endpoint over the recent window.",
            labels=["method", "name", "quantile"],
        )
        for entry in stats.entries.values():
            labels = [entry.method or "", entry.name]
            requests.add_metric(labels, entry.num_requests)
            failures.add_metric(labels, entry.num_failures)
            for q in QUANTILES:
                value = entry.get_current_response_time_percentile(q)
                if value is not None:
                    latency.add_metric([*labels, str(q)], value / 1000.0)
        errors = CounterMetricFamily(
            "locust_errors",
            "Errors by endpoint and kind (HTTP status and reason, or exception class).",
            labels=["method", "name", "error"],
        )
        counts: dict[tuple[str, str, str], int] = {}
        for error in stats.errors.values():
            key = (error.method or "", error.name, error_label(error.error))
            counts[key] = counts.get(key, 0) + error.occurrences
        for key, count in counts.items():
            errors.add_metric(list(key), count)
        return [*families, requests, failures, latency, errors]


def on_init(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import LocalRunner, MasterRunner

    if not isinstance(environment.runner, MasterRunner | LocalRunner):
        return
    options = environment.parsed_options
    port = options.exporter_port if options else EXPORTER_PORT
    if not port:
        return
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LocustCollector(environment))
    host = options.exporter_host if options else "127.0.0.1"
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
    gevent.spawn(server.serve_forever)
    shown = host or "0.0.0.0"  # noqa: S104 - what an empty host means, for the log
    log.info("loadkit: Prometheus exporter on http://%s:%d/metrics", shown, port)

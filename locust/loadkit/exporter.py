"""A Prometheus exporter inside the Locust master (or the single local process).

It reads the runner's own stats at scrape time, so it needs no separate container
scraping the web UI, and it serves in headless and web-UI mode alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import gevent
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadkit.defaults import EXPORTER_PORT

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)

QUANTILES = (0.5, 0.95, 0.99)


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
                "locust_fail_ratio", "Failed / all requests so far.", value=stats.total.fail_ratio
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
        errors = GaugeMetricFamily(
            "locust_errors", "Errors by endpoint and error.", labels=["method", "name", "error"]
        )
        for error in stats.errors.values():
            errors.add_metric([error.method or "", error.name, str(error.error)], error.occurrences)
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
    host = options.exporter_host if options else ""
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
    gevent.spawn(server.serve_forever)
    shown = host or "0.0.0.0"  # noqa: S104 - what an empty host means, for the log
    log.info("loadkit: Prometheus exporter on http://%s:%d/metrics", shown, port)

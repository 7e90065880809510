"""Hooks loadkit into Locust: its command-line options and its event listeners.

Importing this module from a locustfile is all it takes (Locust's events are the seam).
"""

from typing import Any

from locust.argument_parser import LocustArgumentParser

from loadkit import (
    defaults,
    distribution,
    exporter,
    gate,
    options,
    pacing,
    recorder,
    thresholds,
)
from locust import events


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    # On the parser itself: only it knows Locust's web-UI keywords (is_secret, …).
    add = parser.add_argument
    add(
        "--pacing",
        type=options.positive_seconds,
        default=defaults.PACING_SECONDS,
        help="seconds between the starts of a user's iterations (live: POST /pacing)",
    )
    add(
        "--user-pool",
        type=int,
        default=20,
        help="load-test users the master makes sure exist in the service",
    )
    add(
        "--loadtest-password",
        default="loadtest-password",
        is_secret=True,
        env_var="LOADWATCH_LOADTEST_PASSWORD",
        help="their password",
    )
    add(
        "--admin-username",
        default="admin",
        env_var="LOADWATCH_ADMIN_USERNAME",
        help="an admin of the service, to create the pool",
    )
    add(
        "--admin-password",
        default="admin",
        is_secret=True,
        env_var="LOADWATCH_ADMIN_PASSWORD",
        help="that admin's password",
    )
    add(
        "--exporter-port",
        type=int,
        default=defaults.EXPORTER_PORT,
        include_in_web_ui=False,
        help="port of the Prometheus exporter on the master (0: off)",
    )
    add(
        "--exporter-host",
        default="",
        include_in_web_ui=False,
        help="address the exporter listens on (default: all)",
    )
    add(
        "--max-fail-ratio",
        type=float,
        default=None,
        include_in_web_ui=False,
        help="fail the run (exit 1) above this failure ratio, e.g. 0.01",
    )
    add(
        "--max-p95-ms",
        type=float,
        default=None,
        include_in_web_ui=False,
        help="fail the run above this p95 response time",
    )
    add(
        "--min-rps",
        type=float,
        default=None,
        include_in_web_ui=False,
        help="fail the run below this average request rate",
    )

    add(
        "--results-db",
        default=defaults.RESULTS_DB,
        include_in_web_ui=False,
        help="SQLite file where every request's time is recorded, per run ('': off)",
    )
    add("--run-label", default="", help="this run's label (default: the time)")
    add(
        "--baseline",
        default="",
        help="compare with the run of this label, or 'previous' (the last comparable run)",
    )
    add(
        "--alpha",
        type=options.alpha,
        default=defaults.ALPHA,
        include_in_web_ui=False,
        help="family-wise error of the baseline comparison (Holm)",
    )
    add(
        "--min-change",
        type=options.min_change,
        default=dict(defaults.MIN_CHANGE),
        include_in_web_ui=False,
        help=options.MIN_CHANGE_HELP,
    )
    add(
        "--fail-on-regression",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="exit 1 when an endpoint regressed",
    )
    add(
        "--compare-json",
        default="",
        include_in_web_ui=False,
        help="where to write the comparison (default: next to --html)",
    )
    add(
        "--notify-smtp",
        default="",
        include_in_web_ui=False,
        help="host:port of an SMTP server for a notice at test stop",
    )
    add("--notify-to", default="", include_in_web_ui=False, help="who gets the notice")
    add(
        "--notify-from",
        default="loadwatch@localhost",
        include_in_web_ui=False,
        help="the notice's sender",
    )
    add(
        "--notify-webhook",
        default="",
        include_in_web_ui=False,
        help="URL that gets the comparison as a JSON POST at test stop",
    )


events.init.add_listener(distribution.on_init)
events.init.add_listener(pacing.on_init)
events.init.add_listener(exporter.on_init)
events.init.add_listener(recorder.on_init)
events.test_start.add_listener(recorder.on_test_start)
events.spawning_complete.add_listener(recorder.on_spawning_complete)
events.test_start.add_listener(pacing.on_test_start)
events.test_start.add_listener(distribution.on_test_start)
events.quitting.add_listener(thresholds.on_quitting)
events.quitting.add_listener(gate.on_quitting)

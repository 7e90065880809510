"""Hooks loadkit into Locust: its command-line options and its event listeners.

Importing this module from a locustfile is all it takes (Locust's events are the seam).
"""

from typing import Any

from locust.argument_parser import LocustArgumentParser

from loadkit import distribution, exporter, gate, pacing, recorder, thresholds
from locust import events


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    # On the parser itself: only it knows Locust's web-UI keywords (is_secret, …).
    group = parser
    group.add_argument(
        "--pacing",
        type=float,
        default=5.0,
        help="seconds between the starts of a user's iterations (live: POST /pacing)",
    )
    group.add_argument(
        "--user-pool",
        type=int,
        default=20,
        help="load-test users the master makes sure exist in the service",
    )
    group.add_argument(
        "--loadtest-password",
        default="loadtest-password",
        is_secret=True,
        env_var="LOADWATCH_LOADTEST_PASSWORD",
        help="their password",
    )
    group.add_argument(
        "--admin-username",
        default="admin",
        env_var="LOADWATCH_ADMIN_USERNAME",
        help="an admin of the service, to create the pool",
    )
    group.add_argument(
        "--admin-password",
        default="admin",
        is_secret=True,
        env_var="LOADWATCH_ADMIN_PASSWORD",
        help="that admin's password",
    )
    group.add_argument(
        "--exporter-port",
        type=int,
        default=9646,
        include_in_web_ui=False,
        help="port of the Prometheus exporter on the master (0: off)",
    )
    group.add_argument(
        "--exporter-host",
        default="",
        include_in_web_ui=False,
        help="address the exporter listens on (default: all)",
    )
    group.add_argument(
        "--max-fail-ratio",
        type=float,
        default=None,
        include_in_web_ui=False,
        help="fail the run (exit 1) above this failure ratio, e.g. 0.01",
    )
    group.add_argument(
        "--max-p95-ms",
        type=float,
        default=None,
        include_in_web_ui=False,
        help="fail the run above this p95 response time",
    )
    group.add_argument(
        "--min-rps",
        type=float,
        default=None,
        include_in_web_ui=False,
        help="fail the run below this average request rate",
    )

    group.add_argument(
        "--results-db",
        default="results/loadwatch.sqlite",
        include_in_web_ui=False,
        help="SQLite file where every request's time is recorded, per run ('': off)",
    )
    group.add_argument("--run-label", default="", help="this run's label (default: the time)")
    group.add_argument(
        "--baseline",
        default="",
        help="compare with the run of this label, or 'previous' (the last comparable run)",
    )
    group.add_argument(
        "--alpha", type=float, default=0.01, include_in_web_ui=False, help="KS significance level"
    )
    group.add_argument(
        "--min-effect",
        type=float,
        default=0.1,
        include_in_web_ui=False,
        help="smallest KS statistic D that counts as a change",
    )
    group.add_argument(
        "--fail-on-regression",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="exit 1 when an endpoint regressed",
    )
    group.add_argument(
        "--compare-json",
        default="",
        include_in_web_ui=False,
        help="where to write the comparison (default: next to --html)",
    )
    group.add_argument(
        "--notify-smtp",
        default="",
        include_in_web_ui=False,
        help="host:port of an SMTP server for a notice at test stop",
    )
    group.add_argument(
        "--notify-to", default="", include_in_web_ui=False, help="who gets the notice"
    )
    group.add_argument(
        "--notify-from",
        default="loadwatch@localhost",
        include_in_web_ui=False,
        help="the notice's sender",
    )
    group.add_argument(
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

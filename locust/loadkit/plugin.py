"""Hooks loadkit into Locust: its command-line options and its event listeners.

Importing this module from a locustfile is all it takes (Locust's events are the seam).
"""

from typing import Any

from locust.argument_parser import LocustArgumentParser

from loadkit import distribution, exporter, pacing, thresholds
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


events.init.add_listener(distribution.on_init)
events.init.add_listener(pacing.on_init)
events.init.add_listener(exporter.on_init)
events.test_start.add_listener(pacing.on_test_start)
events.test_start.add_listener(distribution.on_test_start)
events.quitting.add_listener(thresholds.on_quitting)

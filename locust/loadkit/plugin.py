"""Hooks loadkit into Locust: its command-line options and its event listeners.

Importing this module from a locustfile is all it takes (Locust's events are the seam).
"""

from typing import Any

from locust.argument_parser import LocustArgumentParser

from loadkit import (
    analyst_data,
    defaults,
    distribution,
    exporter,
    gate,
    options,
    pacing,
    recorder,
    thresholds,
    weblogin,
    webui,
)
from locust import events


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    # On the parser itself: only it knows Locust's web-UI keywords (include_in_web_ui, …).
    # Pacing and the baseline are set in loadkit's panel of the web UI (loadkit.webui), and
    # no password is ever a field of its form: they come from the environment or options.
    add = parser.add_argument
    add(
        "--pacing",
        type=options.positive_seconds,
        default=defaults.PACING_SECONDS,
        include_in_web_ui=False,
        help="seconds between the starts of a user's iterations (live: the Pacing tab, or "
        "POST /pacing)",
    )
    add(
        "--user-pool",
        type=int,
        default=20,
        help="load-test users the master makes sure exist in the service",
    )
    add(
        "--analyst-samples",
        type=int,
        default=defaults.ANALYST_SAMPLES,
        include_in_web_ui=False,
        help="samples in the finished run each pool user gets to read (0: none)",
    )
    add(
        "--loadtest-password",
        default="loadtest-password",
        include_in_web_ui=False,
        env_var="LOADWATCH_LOADTEST_PASSWORD",
        help="their password",
    )
    add(
        "--admin-username",
        default="admin",
        include_in_web_ui=False,
        env_var="LOADWATCH_ADMIN_USERNAME",
        help="an admin of the service, to create the pool",
    )
    add(
        "--admin-password",
        default="admin",
        include_in_web_ui=False,
        env_var="LOADWATCH_ADMIN_PASSWORD",
        help="that admin's password",
    )
    add(
        "--web-username",
        default="admin",
        include_in_web_ui=False,
        env_var="LOADWATCH_WEB_USERNAME",
        help="with --web-login: the web UI's user",
    )
    add(
        "--web-password",
        default="",
        include_in_web_ui=False,
        env_var="LOADWATCH_WEB_PASSWORD",
        help="with --web-login: that user's password (required)",
    )
    add(
        "--web-secret",
        default="",
        include_in_web_ui=False,
        env_var="LOADWATCH_WEB_SECRET",
        help="with --web-login: the key that signs session cookies (default: a new one "
        "at each start)",
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
        include_in_web_ui=False,
        help="compare each test with the run of this label, or 'previous' (the last "
        "comparable run); in the web UI: the Baseline tab",
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
events.init.add_listener(weblogin.on_init)
events.init.add_listener(webui.on_init)
# In this order: the pacing, the users and their data are ready before the run opens.
events.test_start.add_listener(pacing.on_test_start)
events.test_start.add_listener(distribution.on_test_start)
events.test_start.add_listener(analyst_data.on_test_start)
events.test_start.add_listener(recorder.on_test_start)
events.spawning_complete.add_listener(recorder.on_spawning_complete)
events.test_stop.add_listener(gate.on_test_stop)
events.quitting.add_listener(thresholds.on_quitting)
events.quitting.add_listener(gate.on_quitting)

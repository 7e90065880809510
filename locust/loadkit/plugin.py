"""Hooks loadkit into Locust: its command-line options and its event listeners.

``import loadkit`` in a locustfile imports this module (Locust's events are the seam). Every
listener finds loadkit's state on the Environment (``loadkit.runtime.state``), so two Environments
in one process keep theirs apart.
"""

from typing import Any

from locust.argument_parser import LocustArgumentParser
from locust.env import Environment

from loadkit.core import defaults, options
from loadkit.runtime import (
    duet,
    exporter,
    gate,
    pacing,
    recording,
    secret_options,
    state,
    thresholds,
)
from loadkit.web import guard, login, ui
from locust import events


@events.init_command_line_parser.add_listener
def add_options(parser: LocustArgumentParser, **_kwargs: Any) -> None:
    # On the parser itself: only it knows Locust's web-UI keywords (include_in_web_ui, …).
    # Pacing and the baseline are set in loadkit's panel of the web UI (loadkit.web.ui), and
    # no secret is ever a field of its form: they come from the environment or options.
    add = parser.add_argument

    def hidden(*names: str, **settings: Any) -> None:
        """An option set at start-up only: no field of the web UI's form."""
        add(*names, include_in_web_ui=False, **settings)

    hidden(
        "--pacing",
        type=options.positive_seconds,
        default=defaults.PACING_SECONDS,
        help="seconds between the starts of a user's iterations (live: the Pacing tab, or "
        "POST /pacing)",
    )
    hidden(
        "--web-username",
        default="admin",
        env_var="LOADWATCH_WEB_USERNAME",
        help="with --web-login: the web UI's user",
    )
    hidden(
        "--web-password",
        default="",
        env_var="LOADWATCH_WEB_PASSWORD",
        help="with --web-login: that user's password (required)",
    )
    hidden(
        "--web-secret",
        default="",
        env_var="LOADWATCH_WEB_SECRET",
        help="with --web-login: the key that signs session cookies (default: a new one "
        "at each start)",
    )
    hidden(
        "--web-host-names",
        default="",
        help="names (comma-separated) the web UI answers to besides its addresses and "
        "localhost, e.g. the master's DNS name; any other Host gets 403",
    )
    hidden(
        "--web-session-hours",
        type=options.positive_hours,
        default=defaults.WEB_SESSION_HOURS,
        help="with --web-login: hours a login lasts",
    )
    hidden(
        "--exporter-port",
        type=int,
        default=defaults.EXPORTER_PORT,
        help="port of the Prometheus exporter on the master (0: off)",
    )
    hidden(
        "--exporter-host",
        default="127.0.0.1",
        help="address the exporter listens on (0.0.0.0: every interface)",
    )
    hidden(
        "--max-fail-ratio",
        type=float,
        default=None,
        help="fail the run (exit 1) above this failure ratio, e.g. 0.01",
    )
    hidden(
        "--max-p95-ms",
        type=float,
        default=None,
        help="fail the run above this p95 response time",
    )
    hidden(
        "--min-rps",
        type=float,
        default=None,
        help="fail the run below this average request rate",
    )

    hidden(
        "--results-db",
        default=defaults.RESULTS_DB,
        help="SQLite file where every request's time is recorded, per run ('': off)",
    )
    hidden(
        "--results-url",
        default="",
        help="the loadwatch service that keeps the results instead (a team's one history); "
        "the token comes from LOADKIT_RESULTS_TOKEN or --results-token-file, and "
        "--results-db's folder keeps the reports and, while the service is down, the timings",
    )
    hidden(
        "--results-token-file",
        default="",
        help="with --results-url: a file holding the service's API token ('write' to record)",
    )
    hidden(
        "--results-wait",
        type=options.positive_seconds,
        default=60.0,
        help="with --results-url: seconds a closing run waits for the service to take its "
        "last timings before it closes as incomplete",
    )
    hidden(
        "--monitor-tag",
        default="",
        help="with --results-url: the tag of the cpu-monitor runs recording the machine under "
        "test (cpu-monitor --tag); the verdict shows its CPU beside each run",
    )
    add("--run-label", default="", help="this run's label (default: the time)")
    add(
        "--candidate-host",
        default="",
        help="a duet: half the users load this host beside --host, at the same time, and "
        "each test's verdict is the candidate against the baseline, paired in time",
    )
    hidden(
        "--baseline",
        default="",
        help="compare each test with the run of this label, 'previous' (the last "
        "comparable run) or 'history' (the comparable runs since the last change point, up "
        "to 10); in the web UI: the Baseline tab",
    )
    hidden(
        "--alpha",
        type=options.alpha,
        default=defaults.ALPHA,
        help="family-wise error of the baseline comparison (Holm)",
    )
    hidden(
        "--min-change",
        type=options.min_change,
        default=None,
        help=options.MIN_CHANGE_HELP,
    )
    hidden(
        "--fail-on-regression",
        action="store_true",
        default=False,
        help="exit 1 when an endpoint regressed, or the run starts a slower level than its history",
    )
    hidden(
        "--compare-json",
        default="",
        help="where to write the comparison (default: next to --html)",
    )
    hidden(
        "--notify-smtp",
        default="",
        help="host:port of an SMTP server for a notice at test stop",
    )
    hidden("--notify-to", default="", help="who gets the notice")
    hidden(
        "--notify-from",
        default="loadwatch@localhost",
        help="the notice's sender",
    )
    hidden(
        "--notify-webhook",
        default="",
        help="URL that gets the comparison as a JSON POST at test stop",
    )


def _pacing_on_init(environment: Environment, **_kwargs: Any) -> None:
    pacing.on_init(environment, state.kit(environment).pacing)


def _pacing_on_test_start(environment: Environment, **_kwargs: Any) -> None:
    pacing.on_test_start(environment, state.kit(environment).pacing)


# First: the secrets leave the parsed options before anything reads or sends them.
events.init.add_listener(secret_options.on_init)
events.init.add_listener(duet.on_init)
events.init.add_listener(_pacing_on_init)
events.init.add_listener(exporter.on_init)
events.init.add_listener(recording.on_init)
events.init.add_listener(login.on_init)
events.init.add_listener(guard.on_init)
events.init.add_listener(ui.on_init)
# The pacing is set before the run opens. A locustfile's own test_start listeners (its test
# data, its users' accounts) come after these: they run before any user spawns, so nothing
# they do falls in the measured window, which starts when spawning completes.
events.test_start.add_listener(_pacing_on_test_start)
events.test_start.add_listener(recording.on_test_start)
events.test_stop.add_listener(gate.on_test_stop)
events.quitting.add_listener(thresholds.on_quitting)
events.quitting.add_listener(gate.on_quitting)

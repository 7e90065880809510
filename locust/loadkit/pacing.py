"""Live pacing: seconds between the starts of a user's iterations, changeable mid-test.

``--pacing`` sets it at start (it shows in the web UI's form). ``GET /pacing`` reads it and
``POST /pacing {"seconds": 2.5}`` changes it on the master, which broadcasts the new value
to every worker. The web UI shows it in a "Pacing" tab.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from loadkit.defaults import PACING_SECONDS

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from flask import Response
    from locust.env import Environment

log = logging.getLogger(__name__)

MESSAGE = "loadkit_pacing"
JITTER = 0.1


class Pacing:
    def __init__(self, seconds: float = PACING_SECONDS) -> None:
        self.seconds = seconds
        self.changes = 0

    def set(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError("pacing must be a number of seconds > 0")
        self.seconds = seconds
        self.changes += 1
        log.info("loadkit: pacing is now %g s", seconds)


pacing = Pacing()


def paced(user: Any) -> float:
    """A Locust ``wait_time``: iteration k of a user starts ~k * pacing after its first,
    whatever the iteration took; after a slow iteration it starts at once, without a burst
    to catch up. It reads the pacing each time, so a change applies from the next wait.

    Each period is drawn within ±JITTER of the pacing (the mean stays the pacing). Users
    spawned together with one fixed period would meet the service in lockstep forever, at
    phases fixed by the moment they spawned: one run's requests would keep colliding in
    one pattern and the next run's in another, and the two would differ far more than the
    service does. The jitter lets each run sample every phase."""
    now = time.monotonic()
    period = pacing.seconds * random.uniform(1 - JITTER, 1 + JITTER)
    next_start = getattr(user, "_loadkit_next_start", now) + period
    if next_start < now:
        next_start = now
    user._loadkit_next_start = next_start
    return next_start - now


def _broadcast(environment: Environment, seconds: float) -> None:
    from locust.runners import MasterRunner

    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(MESSAGE, {"seconds": seconds})


def _set_everywhere(environment: Environment, seconds: float) -> None:
    pacing.set(seconds)
    _broadcast(environment, seconds)


def on_init(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import WorkerRunner

    options = environment.parsed_options
    if options is not None and options.pacing > 0:
        pacing.seconds = options.pacing
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(
            MESSAGE, lambda msg, **_: pacing.set(float(msg.data["seconds"]))
        )
    if environment.web_ui is not None:
        _extend_web_ui(environment)


def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    # The web UI's form may have changed --pacing since start-up; workers also got the
    # master's options with their spawn message.
    options = environment.parsed_options
    if options is not None and options.pacing != pacing.seconds:
        _set_everywhere(environment, options.pacing)


def _extend_web_ui(environment: Environment) -> None:
    from flask import jsonify, request

    web_ui = environment.web_ui
    assert web_ui is not None
    app = web_ui.app
    if app is None:
        return

    @app.route("/pacing", methods=["GET", "POST"])
    def pacing_route() -> Response | tuple[Response, int]:
        if request.method == "POST":
            body = request.get_json(silent=True) or request.form
            try:
                _set_everywhere(environment, float(body.get("seconds", "")))
            except (TypeError, ValueError):
                return jsonify(detail="seconds must be a number > 0"), 400
            if environment.parsed_options is not None:
                environment.parsed_options.pacing = pacing.seconds
        return jsonify(seconds=pacing.seconds, changes=pacing.changes)

    web_ui.template_args["extendedTabs"] = [{"title": "Pacing", "key": "pacing"}]
    web_ui.template_args["extendedTables"] = [
        {
            "key": "pacing",
            "structure": [
                {"key": "setting", "title": "Setting"},
                {"key": "value", "title": "Value"},
            ],
        }
    ]

    @app.after_request
    def add_pacing_to_stats(response: Response) -> Response:
        # The UI reads its extra tab's rows from the stats it polls.
        if request.path != "/stats/requests" or not response.is_json:
            return response
        stats = response.get_json()
        stats["extendedStats"] = [
            {
                "key": "pacing",
                "data": [
                    {"setting": "Seconds between iterations per user", "value": pacing.seconds},
                    {"setting": "Changes during this test", "value": pacing.changes},
                    {"setting": "Change it", "value": 'POST /pacing {"seconds": N}'},
                ],
            }
        ]
        response.set_data(json.dumps(stats))
        return response

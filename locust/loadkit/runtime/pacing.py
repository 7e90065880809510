"""Live pacing: seconds between the starts of a user's iterations, changeable mid-test.

``--pacing`` sets it at start. ``POST /pacing {"seconds": 2.5}`` on the master's web UI
(and its Pacing tab, see ``loadkit.web.ui``) changes it; the master broadcasts the new value
to every worker. Each change is kept with its time, so the run records it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from typing import TYPE_CHECKING, Any

from loadkit.core.defaults import PACING_SECONDS

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)

MESSAGE = "loadkit_pacing"
JITTER = 0.1


class Pacing:
    def __init__(self, seconds: float = PACING_SECONDS) -> None:
        self.seconds = seconds
        self.history: list[tuple[float, float]] = []  # (time, seconds) of each change

    def set(self, seconds: float) -> None:
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError("pacing must be a number of seconds > 0")
        self.seconds = seconds
        self.history.append((time.time(), seconds))
        log.info("loadkit: pacing is now %g s", seconds)

    def changes_since(self, since: float) -> list[tuple[float, float]]:
        """(time, seconds) of each change after ``since``, in order."""
        return [(ts, seconds) for ts, seconds in self.history if ts > since]


def paced(user: Any) -> float:
    """A Locust ``wait_time``: iteration k of a user starts ~k * pacing after its first,
    whatever the iteration took; after a slow iteration it starts at once, without a burst
    to catch up. It reads the pacing each time, so a change applies from the next wait.

    Each period is drawn within ±JITTER of the pacing (the mean stays the pacing). Users
    spawned together with one fixed period would meet the service in lockstep forever, at
    phases fixed by the moment they spawned: one run's requests would keep colliding in
    one pattern and the next run's in another, and the two would differ far more than the
    service does. The jitter lets each run sample every phase."""
    kit = getattr(user.environment, "loadkit", None)
    if kit is None:
        raise RuntimeError("loadkit.paced needs loadkit's listeners: `import loadkit` first")
    now = time.monotonic()
    seconds: float = kit.pacing.seconds
    period = seconds * random.uniform(1 - JITTER, 1 + JITTER)
    next_start = getattr(user, "_loadkit_next_start", now) + period
    if next_start < now:
        next_start = now
    user._loadkit_next_start = next_start
    return next_start - now


def _broadcast(environment: Environment, seconds: float) -> None:
    from locust.runners import MasterRunner

    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(MESSAGE, {"seconds": seconds})


def set_everywhere(environment: Environment, pacing: Pacing, seconds: float) -> None:
    """Change the pacing here, on every worker, and in the options a new test starts with."""
    pacing.set(seconds)
    _broadcast(environment, seconds)
    if environment.parsed_options is not None:
        environment.parsed_options.pacing = seconds


def on_init(environment: Environment, pacing: Pacing) -> None:
    from locust.runners import WorkerRunner

    options = environment.parsed_options
    if options is not None and options.pacing > 0:
        pacing.seconds = options.pacing
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(
            MESSAGE, lambda msg, **_: pacing.set(float(msg.data["seconds"]))
        )


def on_test_start(environment: Environment, pacing: Pacing) -> None:
    # The web UI's form may have changed --pacing since start-up; workers also got the
    # master's options with their spawn message.
    options = environment.parsed_options
    if options is not None and options.pacing != pacing.seconds:
        set_everywhere(environment, pacing, options.pacing)

"""loadkit: recorded runs, a calibrated verdict against a baseline, the Baseline and Pacing
tabs, a Prometheus exporter and thresholds, for any Locust test.

``import loadkit`` at the top of a locustfile is all it takes: Locust is imported by then,
and loadkit registers its options and listeners on ``locust.events`` (``loadkit.plugin``).
Imported elsewhere (``loadwatch-compare``, a script reading a results store), it registers
nothing and leaves Locust, and gevent's monkey-patching, out of the process.

Opt in to pacing with ``wait_time = loadkit.paced``; mark a request as set-up (recorded,
not measured) with ``context=loadkit.SETUP``.
"""

import sys

from loadkit.pacing import paced
from loadkit.timings import SETUP

__all__ = ["SETUP", "paced"]

if "locust" in sys.modules:  # imported from a locustfile
    from loadkit import plugin  # noqa: F401 - registers loadkit's options and listeners

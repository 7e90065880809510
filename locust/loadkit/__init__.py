"""loadkit: recorded runs, a calibrated verdict against a baseline, the Baseline and Pacing
tabs, a Prometheus exporter and thresholds, for any Locust test.

``import loadkit`` at the top of a locustfile is all it takes: Locust is imported by then,
and loadkit registers its options and listeners on ``locust.events`` (``loadkit.plugin``).
Imported elsewhere (``loadwatch-compare``, a script reading a results store), it registers
nothing and leaves Locust, and gevent's monkey-patching, out of the process.

What a locustfile uses is named here, never a layer's module:

- ``wait_time = loadkit.paced`` opts in to pacing; ``context=loadkit.SETUP`` marks a
  request as set-up (recorded, not measured);
- ``loadkit.declare_secret`` marks options that hold secrets, ``loadkit.secret`` reads one
  and ``loadkit.host_allowed`` says whether a host may receive the host's credentials;
- ``loadkit.target_hosts`` lists the hosts a test loads (a duet's candidate too), for what a
  locustfile prepares before it;
- the samplers hand test data to users (``SequentialSampler``, ``UniqueSequentialSampler``,
  ``RandomSampler``, over a list, ``Generated`` values or ``csv_rows``).

The layers, lowest first (each imports only those below it): ``core`` (records, defaults,
option checks), ``stats`` (pure statistics), ``store`` (the results store and all its SQL),
``report`` (HTML, text, JSON, notices), ``compare`` (a comparison from store to store),
``runtime`` (the Locust side), ``web`` (the master's web UI); ``plugin`` and ``cli`` on top.
"""

import sys

from loadkit.runtime.duet import target_hosts
from loadkit.runtime.pacing import paced
from loadkit.runtime.samplers import (
    Generated,
    RandomSampler,
    SamplerExhausted,
    SequentialSampler,
    UniqueSequentialSampler,
    csv_rows,
)
from loadkit.runtime.secret_options import declare as declare_secret
from loadkit.runtime.secret_options import host_allowed, secret
from loadkit.runtime.timings import SETUP

__all__ = [
    "SETUP",
    "Generated",
    "RandomSampler",
    "SamplerExhausted",
    "SequentialSampler",
    "UniqueSequentialSampler",
    "csv_rows",
    "declare_secret",
    "host_allowed",
    "paced",
    "secret",
    "target_hosts",
]

if "locust" in sys.modules:  # imported from a locustfile
    from loadkit import plugin  # noqa: F401 - registers loadkit's options and listeners

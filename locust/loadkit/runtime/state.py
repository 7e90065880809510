"""loadkit's state in one process, hung on Locust's Environment as ``environment.loadkit``:
two Environments in one process never share a pacing, a recorder or a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loadkit.runtime.pacing import Pacing
from loadkit.runtime.recorder import Recorder
from loadkit.runtime.timings import Buffer, CpuPeak

if TYPE_CHECKING:
    from locust.env import Environment

    from loadkit.stats.comparison import Comparison


@dataclass
class Concluded:
    """A closed test's run and its comparison (None: not compared)."""

    run_id: int
    label: str
    comparison: Comparison | None


@dataclass
class Kit:
    pacing: Pacing = field(default_factory=Pacing)
    # A worker's (or the local process's) timings on their way to the recorder.
    buffer: Buffer = field(default_factory=Buffer)
    cpu_peak: CpuPeak = field(default_factory=CpuPeak)
    # The master's (or local process's) recorder; None on workers and with recording off.
    recorder: Recorder | None = None
    # The last closed test's verdict, for the web UI and Locust's report at quit.
    last: Concluded | None = None
    # Declared secret options, taken out of the parsed options (secret_options.py), and the
    # host the test was started against, the only one host credentials may go to.
    secrets: dict[str, str] = field(default_factory=dict)
    target_host: str = ""
    candidate_host: str = ""  # a duet's, fixed at start-up likewise


def kit(environment: Environment) -> Kit:
    """The Environment's loadkit state, made on first use."""
    found: Kit | None = getattr(environment, "loadkit", None)
    if found is None:
        found = Kit()
        # Locust's Environment declares no attribute for it.
        setattr(environment, "loadkit", found)  # noqa: B010
    return found

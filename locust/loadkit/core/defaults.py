"""Defaults that more than one part of loadkit needs: the Locust options, the modules that
act on them, and `loadwatch-compare`. A module of its own, so that declaring the options
imports nothing heavy (the comparison's numpy and scipy load only when Locust quits)."""

PACING_SECONDS = 5.0
EXPORTER_PORT = 9646
RESULTS_DB = "results/loadwatch.sqlite"
ALPHA = 0.05  # family-wise error of one comparison (Holm over endpoints and quantiles)
# A quantile regressed only when its whole interval lies beyond this relative change. Two
# runs of the same code differ by a few percent, and more in the tail: see the calibration
# table in docs/benchmarks.md for what these defaults give.
MIN_CHANGE = {"p50": 0.10, "p95": 0.15, "p99": 0.20}


def floor_of(min_change: dict[str, float] | None) -> dict[str, float]:
    """``--min-change`` as the floor under measured run-to-run noise: the user's, or none."""
    return dict(min_change) if min_change else {name: 0.0 for name in MIN_CHANGE}


PREVIOUS = "previous"  # --baseline previous: the last comparable run, whatever its label
HISTORY = "history"  # --baseline history: the comparable runs since the last change point
WEB_SESSION_HOURS = 12.0  # --web-login: how long a login to the master's web UI lasts
# Without a measured noise between runs (no duet, no history), the gate fails only on a
# median beyond this: two sequential runs of unchanged code on a shared machine differ by
# more than the practical thresholds cover, and their tails by several times when a
# neighbour was busy during one of them (docs/benchmarks.md has the figures).
UNMEASURED_GATE = 0.5
UNMEASURED_QUANTILE = "p50"
UNMEASURED_NOTE = (
    "the noise between these two runs is unmeasured (a sequential pair with no history at "
    "its level): runs of unchanged code on a shared machine can differ by more than the "
    "thresholds, so "
    f"--fail-on-regression fails here only on a median beyond +{UNMEASURED_GATE:.0%}; a duet "
    "(--candidate-host) or 3 earlier comparable runs measure it"
)

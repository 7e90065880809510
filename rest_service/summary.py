"""The summary of a run's samples: pure arithmetic, run in the thread pool."""

import itertools
import math
from collections.abc import Sequence
from datetime import datetime

from rest_service.schemas import Summary


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(
    points: list[tuple[datetime, float]],
    threshold: float | None,
    started_at: datetime,
    ended_at: datetime,
) -> Summary:
    """``points`` are (timestamp, cpu_percent) in seq order.

    Time above the threshold adds, for each sample strictly above it, the time until the
    next sample in time order; the last sample adds nothing.
    """
    duration = max((ended_at - started_at).total_seconds(), 0.0)
    if not points:
        return Summary(
            sample_count=0,
            cpu_avg=None,
            cpu_max=None,
            cpu_p95=None,
            duration_seconds=duration,
            time_above_threshold_seconds=None if threshold is None else 0.0,
        )
    cpu = sorted(value for _, value in points)
    above: float | None = None
    if threshold is not None:
        ordered = sorted(points, key=lambda p: p[0])  # stable: ties keep seq order
        above = 0.0
        for (ts, value), (next_ts, _) in itertools.pairwise(ordered):
            if value > threshold:
                above += (next_ts - ts).total_seconds()
    return Summary(
        sample_count=len(points),
        cpu_avg=sum(cpu) / len(cpu),
        cpu_max=cpu[-1],
        cpu_p95=percentile(cpu, 0.95),
        duration_seconds=duration,
        time_above_threshold_seconds=above,
    )

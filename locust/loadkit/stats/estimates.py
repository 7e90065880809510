"""Each run's quantile estimates per endpoint (``loadkit.stats.verdict.estimate``): its
count of timings and its p50, p95 and p99 with their autocorrelation-aware standard
errors. A store keeps them once a run has closed (a closed run's timings never change), so
that a history of fifty runs reads fifty runs' few rows, not their millions of timings;
rows of another ``VERSION`` of the estimator are computed again."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadkit.core.records import Endpoint
from loadkit.stats import verdict

VERSION = 1  # of verdict.estimate: kept estimates of another version are computed again

__all__ = ["VERSION", "Endpoint", "RunEstimates", "of_times"]


@dataclass(frozen=True)
class RunEstimates:
    """One endpoint of one run: its count of timings and its quantiles."""

    count: int
    quantiles: dict[str, verdict.QuantileEstimate | None]


def of_times(times: np.ndarray) -> RunEstimates:
    return RunEstimates(int(times.size), verdict.estimate(times))

"""The history of comparable runs, per endpoint and quantile: its change points and
outliers (``loadkit.stats.changepoints``), and the runs of its current level, whose noise
``loadkit.stats.level_noise`` measures.

Comparable runs are those a store finds (``loadkit.store.gather``): the same locustfile,
users, host and pacing. Each run enters as its estimates (``loadkit.stats.estimates``):
p50, p95 and p99 with their autocorrelation-aware standard errors.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadkit.core.records import Endpoint, RunInfo
from loadkit.stats import changepoints
from loadkit.stats.estimates import RunEstimates
from loadkit.stats.verdict import QUANTILES, QuantileEstimate

MAX_LEVEL_RUNS = 10  # the runs since the last change point that make a baseline


@dataclass(frozen=True)
class ChangePoint:
    run: str
    quantile: str
    change: float  # relative change of level: +0.15 is 15 % slower
    low: float
    high: float


@dataclass(frozen=True)
class Outlier:
    run: str
    quantile: str
    change: float  # relative distance to the level it interrupts


@dataclass(frozen=True)
class Point:
    """One run of one series: its quantile and the bounds of its 95 % interval (ms)."""

    run: str
    value: float
    low: float
    high: float


@dataclass
class EndpointHistory:
    method: str
    name: str
    change_points: list[ChangePoint] = field(default_factory=list)
    outliers: list[Outlier] = field(default_factory=list)
    series: dict[str, list[Point]] = field(default_factory=dict)
    # Per quantile, the runs of the newest level (outliers aside, at most MAX_LEVEL_RUNS),
    # and those the newest run is judged against: the runs of its level before it, or of
    # the level before when it starts a new one.
    level: dict[str, list[str]] = field(default_factory=dict)
    prior_level: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "name": self.name,
            "change_points": [cp.__dict__ for cp in self.change_points],
            "outliers": [o.__dict__ for o in self.outliers],
        }


@dataclass
class History:
    runs: list[RunInfo]  # oldest first
    endpoints: list[EndpointHistory]
    estimates: dict[str, dict[Endpoint, RunEstimates]] = field(default_factory=dict)  # by label

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [run.label for run in self.runs],
            "endpoints": [e.to_dict() for e in self.endpoints],
        }

    def new_slower_levels(self, run: RunInfo) -> list[tuple[EndpointHistory, ChangePoint]]:
        """Where ``run`` starts a slower level than the one before it."""
        return slower_levels(self.endpoints, run.label)


def slower_levels(
    endpoints: list[EndpointHistory], label: str
) -> list[tuple[EndpointHistory, ChangePoint]]:
    """Where the run ``label`` starts a slower level than the one before it: what fails
    the gate, besides a regression."""
    return [
        (e, cp) for e in endpoints for cp in e.change_points if cp.run == label and cp.change > 0
    ]


def _seed(*parts: str) -> int:
    """A fixed seed per series: the same history always gives the same answer."""
    return zlib.crc32("\0".join(parts).encode())


def build(
    runs: list[RunInfo],
    per_run: list[dict[Endpoint, RunEstimates]],
    floor: dict[str, float] | None = None,
) -> History:
    """Change points and outliers of every endpoint's p50, p95 and p99 over ``runs``
    (oldest first), each run entering as its estimates (``per_run``, in the same order)."""
    labels = [run.label for run in runs]
    return History(
        runs, of_estimates(labels, per_run, floor), dict(zip(labels, per_run, strict=True))
    )


def of_estimates(
    labels: list[str],
    per_run: list[dict[Endpoint, RunEstimates]],
    floor: dict[str, float] | None = None,
) -> list[EndpointHistory]:
    """Each endpoint's history from the runs' estimates (``labels``, oldest first). A
    change of level smaller than ``floor`` (per quantile, relative) is none."""
    names = sorted({e for found in per_run for e in found}, key=lambda e: (e[1], e[0]))
    endpoints = []
    for method, name in names:
        entry = EndpointHistory(method, name)
        for quantile, _ in QUANTILES:
            found = [
                (labels[i], est)
                for i, by_endpoint in enumerate(per_run)
                if (e := by_endpoint.get((method, name))) is not None
                and (est := e.quantiles.get(quantile)) is not None
            ]
            entry.series[quantile] = [
                Point(
                    label,
                    est.value,
                    est.value * math.exp(-1.96 * est.se_log),
                    est.value * math.exp(1.96 * est.se_log),
                )
                for label, est in found
            ]
            if found:
                labelled = [label for label, _ in found]
                level_floor = (floor or {}).get(quantile, 0.0)
                _segment(entry, quantile, labelled, [e for _, e in found], level_floor)
        endpoints.append(entry)
    return endpoints


def _segment(
    entry: EndpointHistory,
    quantile: str,
    labels: list[str],
    found: list[QuantileEstimate],
    floor: float,
) -> None:
    y = np.log([e.value for e in found])
    se = np.array([e.se_log for e in found])
    seg = changepoints.segment(y, se, floor=floor, seed=_seed(entry.method, entry.name, quantile))
    for c in seg.change_points:
        entry.change_points.append(
            ChangePoint(
                labels[c.index],
                quantile,
                math.expm1(c.log_change),
                math.expm1(c.low),
                math.expm1(c.high),
            )
        )
    outliers = {i for i, _ in seg.outliers}
    for i, distance in seg.outliers:
        entry.outliers.append(Outlier(labels[i], quantile, math.expm1(distance)))
    starts = [0, *(c.index for c in seg.change_points)]
    newest = len(labels) - 1

    def runs(start: int, stop: int) -> list[str]:
        return [labels[i] for i in range(start, stop) if i not in outliers][-MAX_LEVEL_RUNS:]

    entry.level[quantile] = runs(starts[-1], newest + 1)
    alone = len(starts) > 1 and starts[-1] == newest
    entry.prior_level[quantile] = runs(starts[-2] if alone else starts[-1], newest)

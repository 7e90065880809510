"""The history of comparable runs, per endpoint and quantile: its change points and
outliers (``loadkit.changepoints``), the run-to-run noise at the current level, and the
baseline that level makes (``--baseline history``).

Comparable runs are those ``ResultsStore.comparable_runs`` finds: the same locustfile,
users, host and pacing. Each run enters as its estimates (``loadkit.estimates``): p50, p95
and p99 with their autocorrelation-aware standard errors.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadkit import changepoints, estimates
from loadkit.estimates import Endpoint, RunEstimates
from loadkit.results import ResultsStore, RunInfo
from loadkit.verdict import QUANTILES, Noise, QuantileEstimate, critical

MAX_LEVEL_RUNS = 10  # the runs since the last change point that make a baseline
MIN_NOISE_RUNS = 3  # earlier runs at the current level before their noise is used
DEFAULT_RUNS = 50  # the newest comparable runs a history reads, unless told otherwise
POWER_Z = 0.8416  # the normal quantile for 80 % power: "the smallest change detectable"


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
    # Per quantile, the runs of the newest level (outliers aside, at most MAX_LEVEL_RUNS).
    level: dict[str, list[str]] = field(default_factory=dict)
    between_variance: dict[str, float] = field(default_factory=dict)

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
        return [
            (e, cp)
            for e in self.endpoints
            for cp in e.change_points
            if cp.run == run.label and cp.change > 0
        ]


def group(
    store: ResultsStore,
    current: RunInfo,
    since: str | None = None,
    last: int | None = None,
) -> list[RunInfo]:
    """``current`` and the comparable runs before it, oldest first: from the run labelled
    ``since`` on (it must be one of them), the newest ``last`` of them."""
    runs = [current, *store.comparable_runs(current, limit=max(last or DEFAULT_RUNS, 1) - 1)]
    if since is not None:
        labels = [run.label for run in runs]
        if since not in labels:
            raise LookupError(
                f"run {since!r} is not among the comparable runs of {current.label!r}"
            )
        runs = runs[: labels.index(since) + 1]
    return list(reversed(runs))


def _seed(*parts: str) -> int:
    """A fixed seed per series: the same history always gives the same answer."""
    return zlib.crc32("\0".join(parts).encode())


def build(
    store: ResultsStore,
    runs: list[RunInfo],
    floor: dict[str, float] | None = None,
    known: dict[int, dict[Endpoint, RunEstimates]] | None = None,
) -> History:
    """Change points and outliers of every endpoint's p50, p95 and p99 over ``runs``
    (oldest first). ``known`` holds estimates already computed, by run id."""
    per_run = [(known or {}).get(run.id) or estimates.of_run(store, run) for run in runs]
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
    start = seg.change_points[-1].index if seg.change_points else 0
    level = [i for i in range(start, len(labels)) if i not in outliers][-MAX_LEVEL_RUNS:]
    entry.level[quantile] = [labels[i] for i in level]
    if len(level) >= 2:
        index = np.array(level)
        entry.between_variance[quantile] = changepoints.between_variance(y, se**2, [index])


@dataclass(frozen=True)
class LevelNoise:
    """What the runs at the current level say of one endpoint's quantile: how far a run's
    estimate strays from their level (its own interval and the run-to-run noise together,
    as the sample variance of their logs, with ``runs - 1`` degrees of freedom), and the
    level itself. A new run of the same code is then within a prediction interval of them,
    the variance of which no small ``between_variance`` estimate can shrink to nothing."""

    runs: int
    spread: float  # the sample variance of the runs' log estimates
    own: float  # the mean of their own (within-run) variances
    baseline: QuantileEstimate  # their level, its se that of a mean of `runs` runs

    @property
    def relative(self) -> float:
        """The run-to-run noise as a relative change (one standard deviation)."""
        return math.expm1(math.sqrt(self.spread))

    def noise(self, current_se: float, baseline_se: float | None, floor: float) -> Noise:
        """The variance of the log ratio of a new run (``current_se``) against one run of
        this level (``baseline_se``) or against the level (None), with the degrees of
        freedom of Welch and Satterthwaite: a run with fewer timings than these adds
        its own excess. The threshold is the measured run-to-run noise itself (one
        standard deviation), or the user's floor when that is larger: a change within what
        the service does between two runs of the same code is no regression, and the
        fixed thresholds were a guess of exactly that."""
        spread = self.spread * (1 + (1 / self.runs if baseline_se is None else 1))
        excess = max(0.0, current_se**2 - self.own)
        if baseline_se is not None:
            excess += max(0.0, baseline_se**2 - self.own)
        total = spread + excess
        df = (self.runs - 1) * (total / spread) ** 2 if spread > 0 else math.inf
        return Noise(total, df, max(floor, self.relative))

    def detectable(self, current_se: float, alpha: float) -> float:
        """The smallest change the next run is caught at, against the level, with 80 %
        power (at a family-wise ``alpha`` for this one quantile)."""
        noise = self.noise(current_se, None, 0.0)
        return math.expm1((critical(alpha, noise.df) + POWER_Z) * math.sqrt(noise.variance))


def level_noise(runs: dict[str, RunEstimates], endpoint: EndpointHistory) -> dict[str, LevelNoise]:
    """Per quantile, the noise of the newest level of ``endpoint``'s history, when at least
    MIN_NOISE_RUNS runs make it. ``runs`` holds this endpoint's estimates by label."""
    found = {}
    for quantile, labels in endpoint.level.items():
        points = [runs[label].quantiles.get(quantile) for label in labels if label in runs]
        ests = [p for p in points if p is not None]
        if len(ests) < MIN_NOISE_RUNS:
            continue
        y = np.log([p.value for p in ests])
        spread = float(y.var(ddof=1))
        own = float(np.mean([p.se_log**2 for p in ests]))
        level = QuantileEstimate(math.exp(float(y.mean())), math.sqrt(spread / len(ests)))
        found[quantile] = LevelNoise(len(ests), spread, own, level)
    return found


@dataclass
class PairContext:
    """What history adds to one endpoint's pair verdict."""

    noise: dict[str, Noise] = field(default_factory=dict)
    # --baseline history: the level's pooled estimate, in place of one baseline run's.
    baseline: dict[str, QuantileEstimate] = field(default_factory=dict)
    baseline_runs: dict[str, list[str]] = field(default_factory=dict)  # per quantile
    # For the report: per quantile, the noise (relative), its runs and the smallest change
    # the next run could detect.
    figures: dict[str, dict[str, float]] = field(default_factory=dict)


def pair_context(
    prior: list[EndpointHistory],
    by_label: dict[str, dict[Endpoint, RunEstimates]],
    endpoint: Endpoint,
    runs: tuple[RunEstimates | None, RunEstimates | None],
    pooled: bool,
    floor: dict[str, float],
    alpha: float,
) -> PairContext:
    """The noise of ``endpoint`` at the level of the runs before the current one (their
    history ``prior``, their estimates ``by_label``), for a pair verdict of the (current,
    baseline) ``runs`` against one run of that level, or against the level itself
    (``pooled``)."""
    context = PairContext()
    entry = next((e for e in prior if (e.method, e.name) == endpoint), None)
    if entry is None:
        return context
    found = {label: run[endpoint] for label, run in by_label.items() if endpoint in run}
    current, baseline = runs
    for quantile, level in level_noise(found, entry).items():
        now = current.quantiles.get(quantile) if current else None
        before = baseline.quantiles.get(quantile) if baseline else None
        if now is None or (before is None and not pooled):
            continue
        baseline_se = None if pooled or before is None else before.se_log
        context.noise[quantile] = level.noise(now.se_log, baseline_se, floor[quantile])
        if pooled:
            context.baseline[quantile] = level.baseline
            context.baseline_runs[quantile] = entry.level[quantile]
        context.figures[quantile] = {
            "noise": level.relative,
            "runs": level.runs,
            "detectable": level.detectable(now.se_log, alpha),
        }
    return context

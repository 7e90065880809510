"""The run-to-run noise of an endpoint at its current level (the runs since its last change
point, from ``loadkit.stats.history``), and what it adds to a pair verdict: the pair's variance,
in place of the fixed thresholds that guessed it, and the level itself as the baseline,
for ``--baseline history`` and whenever the baseline run is one of the level's runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from loadkit.stats.estimates import Endpoint, RunEstimates
from loadkit.stats.history import EndpointHistory
from loadkit.stats.verdict import MEASURED_SHARE, Noise, QuantileEstimate, blocks_for, reach

MIN_NOISE_RUNS = 3  # earlier runs at the current level before their noise is used


@dataclass(frozen=True)
class LevelNoise:
    """What the runs at the current level say of one endpoint's quantile: how far a run's
    estimate strays from their level (its own interval and the run-to-run noise together,
    as the sample variance of their logs, with ``runs - 1`` degrees of freedom), and the
    level itself. A new run of the same code is then within a prediction interval of them,
    the variance of which no small ``between_variance`` estimate can shrink to nothing."""

    runs: int
    spread: float  # the sample variance of the runs' log estimates (at least `own`)
    own: float  # the mean of their own (within-run) variances
    baseline: QuantileEstimate  # their level, its se that of a mean of `runs` runs

    @property
    def relative(self) -> float:
        """The run-to-run noise as a relative change (one standard deviation)."""
        return math.expm1(math.sqrt(self.spread))

    def noise(self, current: QuantileEstimate, baseline_se: float | None, floor: float) -> Noise:
        """The variance of the log ratio of a new run (``current``) against one run of this
        level (``baseline_se``) or against the level (None): a run with wider intervals
        than these adds its own excess. Its degrees of freedom are Welch and
        Satterthwaite's, the spread's ``runs - 1`` and the excess's those of the batch
        means its interval comes from (an estimate too, not a known variance). The
        threshold is the user's floor alone: the fixed thresholds were a guess of the noise
        now in the variance."""
        spread = self.spread * (1 + (1 / self.runs if baseline_se is None else 1))
        excess = max(0.0, current.se_log**2 - self.own)
        if baseline_se is not None:
            excess += max(0.0, baseline_se**2 - self.own)
        total = spread + excess
        terms = spread**2 / (self.runs - 1) + excess**2 / (blocks_for(current.count) - 1)
        return Noise(total, total**2 / terms if terms > 0 else math.inf, floor)

    def figures(self, current: QuantileEstimate, alpha: float) -> dict[str, float]:
        """For the report: the noise (relative), its runs, and the smallest change a next
        run like ``current`` could detect."""
        return {
            "noise": self.relative,
            "runs": self.runs,
            "detectable": self.detectable(current, alpha),
        }

    def detectable(self, current: QuantileEstimate, alpha: float) -> float:
        """The smallest change the next run is caught at, against the level, with 80 %
        power (at a family-wise ``alpha`` for this one quantile, of which a measured
        quantile's test takes MEASURED_SHARE)."""
        noise = self.noise(current, None, 0.0)
        return math.expm1(reach(0.0, noise.variance, noise.df, alpha * MEASURED_SHARE))


def level_noise(
    runs: dict[str, RunEstimates], levels: dict[str, list[str]]
) -> dict[str, LevelNoise]:
    """Per quantile, the noise of the runs of ``levels`` (an endpoint's newest level, or the
    runs its newest run is judged against), when at least MIN_NOISE_RUNS runs make it.
    ``runs`` holds this endpoint's estimates by label."""
    found = {}
    for quantile, labels in levels.items():
        points = [runs[label].quantiles.get(quantile) for label in labels if label in runs]
        ests = [p for p in points if p is not None]
        if len(ests) < MIN_NOISE_RUNS:
            continue
        y = np.log([p.value for p in ests])
        own = float(np.mean([p.se_log**2 for p in ests]))
        # A run's estimate strays from its level by its own interval and the run-to-run
        # noise together: never less than its own interval, however close a few runs fell.
        spread = max(float(y.var(ddof=1)), own)
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
    endpoints: list[EndpointHistory],
    by_label: dict[str, dict[Endpoint, RunEstimates]],
    endpoint: Endpoint,
    runs: tuple[RunEstimates | None, RunEstimates | None],
    baseline_label: str | None,
    floor: dict[str, float],
    alpha: float,
) -> PairContext:
    """The noise of ``endpoint`` at the level the current run is judged against (in the
    history ``endpoints`` whose newest run it is, of the runs ``by_label``), for a pair
    verdict of the (current, baseline) ``runs``. The baseline run ``baseline_label`` (None:
    ``--baseline history``) is one draw of its level: when it is one of the level's runs,
    the current run is judged against the level itself, which is what the baseline run
    measures without its own run-to-run noise. A baseline run outside the level (an
    outlier, or older) is judged against as one run, its noise that of the level."""
    context = PairContext()
    entry = next((e for e in endpoints if (e.method, e.name) == endpoint), None)
    if entry is None:
        return context
    found = {label: run[endpoint] for label, run in by_label.items() if endpoint in run}
    current, baseline = runs
    for quantile, level in level_noise(found, entry.prior_level).items():
        now = current.quantiles.get(quantile) if current else None
        before = baseline.quantiles.get(quantile) if baseline else None
        pooled = baseline_label is None or baseline_label in entry.prior_level[quantile]
        if now is None or (before is None and not pooled):
            continue
        baseline_se = None if pooled or before is None else before.se_log
        measured = level.noise(now, baseline_se, floor[quantile])
        if baseline_se is not None:
            against = level.noise(now, None, floor[quantile])
            log_ratio = math.log(now.value / level.baseline.value)
            measured = Noise(
                measured.variance,
                measured.df,
                measured.threshold,
                (log_ratio, math.sqrt(against.variance), against.df),
            )
        context.noise[quantile] = measured
        if pooled:
            context.baseline[quantile] = level.baseline
            context.baseline_runs[quantile] = entry.prior_level[quantile]
        context.figures[quantile] = level.figures(now, alpha)
    return context

"""The run-to-run noise of an endpoint at its current level (the runs since its last change
point, from ``loadkit.history``), and what it adds to a pair verdict: the pair's variance,
the threshold that replaces the fixed guess, and, for ``--baseline history``, the level
itself as the baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from loadkit.estimates import Endpoint, RunEstimates
from loadkit.history import EndpointHistory
from loadkit.verdict import Noise, QuantileEstimate, critical

MIN_NOISE_RUNS = 3  # earlier runs at the current level before their noise is used
POWER_Z = 0.8416  # the normal quantile for 80 % power: "the smallest change detectable"


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

    def figures(self, current_se: float, alpha: float) -> dict[str, float]:
        """For the report: the noise (relative), its runs, and the smallest change a next
        run with ``current_se`` could detect."""
        return {
            "noise": self.relative,
            "runs": self.runs,
            "detectable": self.detectable(current_se, alpha),
        }

    def detectable(self, current_se: float, alpha: float) -> float:
        """The smallest change the next run is caught at, against the level, with 80 %
        power (at a family-wise ``alpha`` for this one quantile)."""
        noise = self.noise(current_se, None, 0.0)
        return math.expm1((critical(alpha, noise.df) + POWER_Z) * math.sqrt(noise.variance))


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
    endpoints: list[EndpointHistory],
    by_label: dict[str, dict[Endpoint, RunEstimates]],
    endpoint: Endpoint,
    runs: tuple[RunEstimates | None, RunEstimates | None],
    pooled: bool,
    floor: dict[str, float],
    alpha: float,
) -> PairContext:
    """The noise of ``endpoint`` at the level the current run is judged against (in the
    history ``endpoints`` whose newest run it is, of the runs ``by_label``), for a pair
    verdict of the (current, baseline) ``runs`` against one run of that level, or against
    the level itself (``pooled``)."""
    context = PairContext()
    entry = next((e for e in endpoints if (e.method, e.name) == endpoint), None)
    if entry is None:
        return context
    found = {label: run[endpoint] for label, run in by_label.items() if endpoint in run}
    current, baseline = runs
    for quantile, level in level_noise(found, entry.prior_level).items():
        now = current.quantiles.get(quantile) if current else None
        before = baseline.quantiles.get(quantile) if baseline else None
        if now is None or (before is None and not pooled):
            continue
        baseline_se = None if pooled or before is None else before.se_log
        measured = level.noise(now.se_log, baseline_se, floor[quantile])
        if baseline_se is not None:
            against = level.noise(now.se_log, None, floor[quantile])
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
        context.figures[quantile] = level.figures(now.se_log, alpha)
    return context

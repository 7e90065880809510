"""The baseline verdict: did p50, p95 or p99 of an endpoint move by more than a practical
threshold, with an interval that respects the autocorrelation of response times?

Why not the KS test. Response times within a run are autocorrelated (contention comes in
waves), so a KS p-value, which assumes independent draws, is far too small; its statistic
D is a vertical distance between the ECDFs and cannot see a change confined to the tail;
and two runs of the same code always differ by a few percent, which any test with enough
data calls significant. KS stays in the report as a diagnostic of shape, nothing more.

What the verdict rests on, per endpoint and quantile (p50, p95, p99):

1. The point estimate is the ratio of the two runs' sample quantiles, on the log scale.
2. Its standard error comes from the variance of the empirical CDF at the quantile,
   ``F(q) = mean(x_t <= q)``, estimated on the run *in time order*, and carried to the
   quantile through the empirical quantile function (the order-statistic interval
   ``q(p - s) .. q(p + s)``). This is how Vehtari, Gelman, Simpson, Carpenter and Bürkner,
   "Rank-normalization, folding, and localization: an improved R-hat for assessing
   convergence of MCMC" (Bayesian Analysis, 2021, section 4.3), give a quantile's Monte
   Carlo standard error for autocorrelated draws: it needs no density estimate and works
   as well at p99 as at the median.
3. The variance of that indicator mean is estimated twice, and the larger is kept:
   - Geyer's initial monotone sequence estimator of the integrated autocorrelation time
     (Geyer, "Practical Markov chain Monte Carlo", Statistical Science, 1992), the one
     the paper above uses;
   - batch means over 10 to 30 consecutive time blocks (the range recommended by
     Schmeiser, "Batch size effects in the analysis of simulation output", Operations
     Research, 1982). Geyer's estimator truncates a weak but long correlation at the
     first noisy negative pair, which is what a slow drift of the tail looks like; the
     blocks see it. Taking the larger costs a little power when both are right and
     protects the false-alarm rate when one is not.
   Block bootstraps (Künsch, "The jackknife and the bootstrap for general stationary
   observations", Annals of Statistics, 1989) answer the same question but cost hundreds
   of resamples of a million timings; this costs a sort and a few FFTs.
4. Practical significance, as Kayenta (Netflix and Google's automated canary analysis)
   pairs its Mann-Whitney test with allowed-increase bounds per metric: a quantile
   *regressed* only when its whole interval lies beyond ``+min_change`` (an improvement
   mirrors it below ``-min_change``). The thresholds absorb the few percent by which two
   runs of the same code always differ, which no within-run interval can see.
   The default thresholds grow towards the tail, where run-to-run noise is larger.
5. Many endpoints and three quantiles make many hypotheses. The family-wise error of a
   whole comparison is held at ``alpha`` by Holm's step-down procedure (Holm, "A simple
   sequentially rejective multiple test procedure", Scandinavian Journal of Statistics,
   1979) over every (endpoint, quantile) hypothesis, each tested two-sided against its
   thresholds. Each interval is shown at the level Holm tested it at, so "the interval
   lies beyond the threshold" and "Holm rejected" are the same statement.
6. Not enough data is a verdict of its own. There is no floor of timings per run: a
   quantile is assessed whenever its interval is valid at that count, that is when the
   run fills MIN_BLOCKS time blocks of MIN_BLOCK_SIZE timings (so 100 timings) and has
   MIN_TAIL timings beyond the quantile (the median from 100 timings, p95 from 400, p99
   from 2,000). Below it, nothing is assessed, and such data never makes a regression.
   Below SMALL_COUNT timings, though, a run's blocks are too short to see contention
   that comes in long waves (the calibration's harsh model makes false alarms there), so
   without a measured run-to-run noise only a change beyond SMALL_COUNT_CHANGE counts:
   a threefold slowdown in 150 timings is a regression, a 25 % one is not yet.
7. Run-to-run noise. Two runs of the same code differ by more than either run's own
   interval can see (warm-up, the machine, the data). When earlier comparable runs at the
   current level are known (``loadkit.stats.history``), the spread of their estimates gives
   the pair's whole variance per endpoint and quantile (each run's own interval and that
   noise together, as a prediction interval does), and ``decide`` tests with Student's t
   at the Welch-Satterthwaite degrees of freedom of that spread and of the current run's
   own excess.
   The practical thresholds, a fixed guess of that noise, give way to the user's own
   floor alone (none by default): the noise is in the variance, and a threshold on top
   would count it twice. With no threshold to absorb what the few runs' estimate of the
   noise misses, those hypotheses take MEASURED_SHARE of Holm's alpha at each step (a
   weighted Holm procedure, which keeps the family-wise error at ``alpha``): with every
   quantile measured, false alarms stay under 1 % at the default alpha of 5 %.
   A few runs give that t few degrees of freedom, and its interval can be wider than the
   pair's own with the practical threshold: each quantile takes whichever of the two
   tests reaches the smaller change with 80 % power (``reach``), a choice made on their
   spreads alone, never on the change, so that history never makes the verdict blind.

8. A duet (``loadkit.stats.duet``) ran both sides at once: the variance of their ratio
   comes from the time blocks in which both ran, always taken, at Holm's whole alpha.

The calibration harness (``loadkit.stats.calibration``, ``python -m benchmarks.verdicts``)
measures the false-alarm rate and the power of exactly this function on simulated runs of
known truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

REGRESSION, IMPROVEMENT = "regression", "improvement"
NO_CHANGE, INCONCLUSIVE = "no significant change", "inconclusive"
NOT_ENOUGH_DATA = "not enough data"

QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
MIN_BLOCKS, MAX_BLOCKS = 10, 30  # time blocks for the batch-means variance
MIN_BLOCK_SIZE = 10
MIN_TAIL = 20  # timings beyond a quantile, per run, before that quantile is assessed
SMALL_COUNT, SMALL_COUNT_CHANGE = 500, 0.5  # below this count, alone: this threshold at least
FLOOR_MS = 1e-3  # the log scale needs positive times; a 0 ms timing counts as 1 µs
MEASURED_SHARE = 0.2  # of Holm's alpha, for a quantile whose run-to-run noise is measured
POWER_Z = 0.8416  # the normal quantile for 80 % power: "the smallest change detectable"


@dataclass(frozen=True)
class QuantileEstimate:
    """One run's quantile, with the standard error of its logarithm."""

    value: float  # ms
    se_log: float
    count: int = SMALL_COUNT  # the run's timings it comes from


@dataclass(frozen=True)
class QuantileChange:
    """One quantile of one endpoint: the relative change, its interval and its outcome."""

    quantile: str  # "p50", "p95", "p99"
    threshold: float  # the practical threshold it was judged against (relative)
    change: float | None  # current / baseline - 1
    low: float | None  # the interval of the change, at `level`
    high: float | None
    level: float | None  # confidence level of the interval (Holm's step for it)
    p_value: float | None  # Holm-adjusted, against the thresholds
    outcome: str  # REGRESSION, IMPROVEMENT, NO_CHANGE, INCONCLUSIVE or NOT_ENOUGH_DATA

    def describe(self) -> str:
        if self.change is None or self.low is None or self.high is None:
            return f"{self.quantile}: {self.outcome}"
        level = f"{self.level:.1%}".replace(".0%", "%") if self.level else ""
        return (
            f"{self.quantile} {self.change:+.1%} ({level} interval {self.low:+.1%} to "
            f"{self.high:+.1%}, threshold ±{self.threshold:.0%})"
        )


def _autocorrelation_time(x: np.ndarray) -> float:
    """Integrated autocorrelation time by Geyer's initial monotone sequence (via FFT)."""
    n = x.size
    centred = x - x.mean()
    variance = float(centred @ centred) / n
    if variance == 0:
        return 1.0
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    rho = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / (n * variance)
    even = (n - 1) // 2 * 2
    pairs = rho[0:even:2] + rho[1:even:2]
    negative = np.flatnonzero(pairs <= 0)
    pairs = np.minimum.accumulate(pairs[: negative[0] if negative.size else pairs.size])
    return max(float(-1 + 2 * pairs.sum()), 1.0 / math.log10(max(n, 10)))


def _batch_variance(x: np.ndarray, blocks: int) -> float:
    """Variance of the mean of ``x`` from the means of consecutive time blocks."""
    size = x.size // blocks
    means = x[: size * blocks].reshape(blocks, size).mean(axis=1)
    return float(means.var(ddof=1)) / blocks


def blocks_for(n: int) -> int:
    return min(MAX_BLOCKS, n // MIN_BLOCK_SIZE)


def estimate(times: np.ndarray) -> dict[str, QuantileEstimate | None]:
    """p50, p95 and p99 of one run's timings, given **in time order**; None where there
    are not enough timings to assess that quantile."""
    n = int(times.size)
    if blocks_for(n) < MIN_BLOCKS:
        return {name: None for name, _ in QUANTILES}
    times = np.maximum(np.asarray(times, dtype=np.float64), FLOOR_MS)
    ordered = np.sort(times)
    blocks = blocks_for(n)
    result: dict[str, QuantileEstimate | None] = {}
    for name, p in QUANTILES:
        if n * (1 - p) < MIN_TAIL:
            result[name] = None
            continue
        value = float(np.quantile(ordered, p))
        below = (times <= value).astype(np.float64)
        iid = p * (1 - p) / n
        variance = max(
            float(below.var()) * _autocorrelation_time(below) / n,
            _batch_variance(below, blocks),
            iid,
        )
        spread = math.sqrt(variance)
        low, high = np.quantile(ordered, [max(p - spread, 0.0), min(p + spread, 1.0)])
        se_log = (math.log(high) - math.log(low)) / 2
        result[name] = QuantileEstimate(value, se_log, n)
    return result


Estimates = Mapping[str, QuantileEstimate | None]


@dataclass(frozen=True)
class Noise:
    """What earlier runs at the current level tell about one endpoint's quantile: the whole
    variance of the pair's log ratio (the runs' own intervals and the run-to-run noise
    together), the degrees of freedom it was estimated with, and the threshold that
    replaces the practical guess (the measured noise, or the user's floor). Against one
    run of the level, ``confirm`` holds the current run's log ratio against the level
    itself, its standard error and degrees of freedom: a verdict must hold against both,
    so that a baseline run that strayed from its level (a spike) makes none."""

    variance: float
    df: float
    threshold: float
    confirm: tuple[float, float, float] | None = None
    # A duet's: the variance of the very pair (its sides ran side by side), always taken,
    # at Holm's whole alpha (loadkit.stats.duet).
    paired: bool = False


def _upper(z: float, df: float) -> float:
    """P(T > z) for Student's t with ``df`` degrees of freedom (normal when infinite)."""
    return float(1 - ndtr(z)) if math.isinf(df) else float(stdtr(df, -z))


def critical(level: float, df: float) -> float:
    """The two-sided critical value of an interval at confidence ``1 - level``."""
    return float(ndtri(1 - level / 2)) if math.isinf(df) else float(stdtrit(df, 1 - level / 2))


@dataclass(frozen=True)
class _Hypothesis:
    key: tuple[int, str]  # (endpoint index, quantile)
    log_ratio: float
    se: float
    df: float
    threshold: float
    p_raw: float  # two-sided, against the thresholds
    direction: str  # REGRESSION or IMPROVEMENT: the side the estimate leans to
    weight: float = 1.0  # its share of Holm's alpha at each step (MEASURED_SHARE or 1)
    confirm: tuple[float, float, float] | None = None  # Noise.confirm

    def confirmed(self, level: float) -> bool:
        """Whether the current run also left the level, the same way, at ``level``."""
        if self.confirm is None:
            return True
        log_ratio, se, df = self.confirm
        if self.direction == REGRESSION:
            z = (log_ratio - math.log1p(self.threshold)) / se if se else math.inf
        else:
            z = (math.log1p(-self.threshold) - log_ratio) / se if se else math.inf
        return _upper(z, df) <= level / 2


def reach(threshold: float, variance: float, df: float, level: float) -> float:
    """The smallest change (log scale) a test at ``level`` catches with 80 % power: its
    threshold, then the critical value and POWER_Z standard errors beyond it."""
    return math.log1p(threshold) + (critical(level, df) + POWER_Z) * math.sqrt(variance)


def _hypothesis(
    key: tuple[int, str],
    current: QuantileEstimate,
    baseline: QuantileEstimate,
    threshold: float,
    noise: Noise | None,
    alpha: float,
) -> _Hypothesis:
    """The test of one quantile: the pair's own intervals against the practical
    threshold, or, where history measured the noise and that test reaches smaller changes
    (which the few runs' degrees of freedom can forbid), the noise's. The choice looks at
    the spreads alone, never at the change."""
    log_ratio = math.log(current.value / baseline.value)
    variance, df, confirm = current.se_log**2 + baseline.se_log**2, math.inf, None
    weight = 1.0
    if min(current.count, baseline.count) < SMALL_COUNT:
        threshold = max(threshold, SMALL_COUNT_CHANGE)
    if noise is not None and (
        noise.paired
        or reach(noise.threshold, noise.variance, noise.df, alpha * MEASURED_SHARE)
        < reach(threshold, variance, df, alpha)
    ):
        variance, df, threshold, confirm = noise.variance, noise.df, noise.threshold, noise.confirm
        weight = 1.0 if noise.paired else MEASURED_SHARE
    se = math.sqrt(variance)
    up, down = math.log1p(threshold), math.log1p(-threshold)
    if se == 0:  # identical, tie-bound quantiles: the estimate is the truth
        p_up = 0.0 if log_ratio > up else 1.0
        p_down = 0.0 if log_ratio < down else 1.0
    else:
        p_up = _upper((log_ratio - up) / se, df)
        p_down = _upper((down - log_ratio) / se, df)
    direction = REGRESSION if p_up <= p_down else IMPROVEMENT
    # Weighted Holm: a hypothesis of weight w is rejected at a step when p / w <= alpha / k.
    p_raw = min(1.0, 2 * min(p_up, p_down) / weight)
    return _Hypothesis(key, log_ratio, se, df, threshold, p_raw, direction, weight, confirm)


def decide(
    pairs: Sequence[
        tuple[Mapping[str, QuantileEstimate | None], Mapping[str, QuantileEstimate | None]]
    ],
    alpha: float,
    min_change: Mapping[str, float],
    noise: Mapping[tuple[int, str], Noise] | None = None,
) -> list[tuple[str, list[QuantileChange]]]:
    """Verdicts for several endpoints at once, ``pairs`` holding each endpoint's
    (current, baseline) estimates. Holm's procedure runs over all their quantiles.
    ``noise``, by (endpoint index, quantile), is the run-to-run noise measured in history:
    where it is known and its test reaches smaller changes, it is the pair's variance and
    its threshold (the user's floor) replaces ``min_change``."""
    noise = noise or {}
    hypotheses = [
        _hypothesis((index, name), now, before, min_change[name], noise.get((index, name)), alpha)
        for index, (current, baseline) in enumerate(pairs)
        for name, _ in QUANTILES
        if (now := current.get(name)) is not None and (before := baseline.get(name)) is not None
    ]
    hypotheses.sort(key=lambda h: h.p_raw)
    m = len(hypotheses)
    tested: dict[tuple[int, str], tuple[_Hypothesis, float, float, bool]] = {}
    adjusted = 0.0
    rejecting = True
    for rank, h in enumerate(hypotheses):
        adjusted = max(adjusted, min(1.0, (m - rank) * h.p_raw))
        rejecting = rejecting and adjusted <= alpha
        tested[h.key] = (h, adjusted, alpha / (m - rank), rejecting)
    # Hypotheses Holm did not reach are shown at the level of the step where it stopped.
    stop_level = next((level for _, _, level, rejected in tested.values() if not rejected), None)

    results: list[tuple[str, list[QuantileChange]]] = []
    for index in range(len(pairs)):
        changes = []
        for name, _ in QUANTILES:
            found = tested.get((index, name))
            if found is None:
                threshold = noise[(index, name)].threshold if (index, name) in noise else None
                changes.append(
                    QuantileChange(
                        name,
                        min_change[name] if threshold is None else threshold,
                        None,
                        None,
                        None,
                        None,
                        None,
                        NOT_ENOUGH_DATA,
                    )
                )
                continue
            h, p_adjusted, level, rejected = found
            if not rejected and stop_level is not None:
                level = stop_level
            level *= h.weight  # the level its own test ran at
            rejected = rejected and h.confirmed(level)
            half = critical(level, h.df) * h.se
            low, high = h.log_ratio - half, h.log_ratio + half
            if rejected:
                outcome = h.direction
            elif half <= math.log1p(max(h.threshold, min_change[name])):
                # Decisive: the interval rules out any change as large as the practical
                # threshold (the measured noise's test included, whose own is lower).
                outcome = NO_CHANGE
            else:
                outcome = INCONCLUSIVE
            changes.append(
                QuantileChange(
                    name,
                    h.threshold,
                    math.expm1(h.log_ratio),
                    math.expm1(low),
                    math.expm1(high),
                    1 - level,
                    p_adjusted,
                    outcome,
                )
            )
        results.append((_endpoint_verdict(changes), changes))
    return results


def _endpoint_verdict(changes: Sequence[QuantileChange]) -> str:
    """A regression anywhere wins (it is what gates a release); then an improvement; then
    no change when at least one quantile was measured precisely enough to tell."""
    outcomes = {c.outcome for c in changes}
    for verdict in (REGRESSION, IMPROVEMENT, NO_CHANGE, INCONCLUSIVE):
        if verdict in outcomes:
            return verdict
    return NOT_ENOUGH_DATA


def headline(changes: Sequence[QuantileChange], verdict: str) -> str:
    """The quantile that decided the verdict, e.g. 'p99 +48.0% (99.2% interval …)'."""
    moved = [c for c in changes if c.outcome == verdict and c.outcome in (REGRESSION, IMPROVEMENT)]
    if moved:
        return "; ".join(c.describe() for c in sorted(moved, key=lambda c: c.p_value or 0)[:1])
    assessed = [c for c in changes if c.change is not None]
    return assessed[0].describe() if assessed else ""

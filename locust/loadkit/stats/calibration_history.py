"""Calibration of what history adds, on the simulated runs of ``loadkit.stats.calibration``:

- **Series of runs** (``run_series``): 20 runs of one endpoint, each a simulated run with
  its own run-to-run noise, through the product's own history (``loadkit.stats.history``). Four
  truths: a flat series; a +15 % step from run 10 on; a drift of +1.5 % per run; a single
  +50 % run (run 10) amid a flat series.
- **The pair verdict with history** (``judge_with_history``): the same (current, baseline)
  pairs as the pair verdict's, with five earlier unchanged runs in the group, through the
  product's own path (history of the earlier runs, their noise, ``compare_endpoints``).
- **The oracle** (``Oracle``): the best a test on the same two runs can do. It knows the
  generator, so it knows the exact distribution, without any change, of the log ratios of
  the two runs' p50, p95 and p99: it standardises each by its null spread, takes the
  largest, and rejects beyond that maximum's null quantile at the given false-alarm rate.
  Its power is the limit no verdict on the same two runs can pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadkit.core.defaults import ALPHA, floor_of
from loadkit.stats import estimates, history, level_noise, verdict
from loadkit.stats.calibration import SCENARIOS, Cell, Model, judge, simulate
from loadkit.stats.comparison import compare_endpoints

SERIES = ("flat", "+15% step", "+1.5% per run drift", "single +50% run")
SERIES_RUNS, STEP_AT = 20, 10
EARLIER_RUNS = 5  # the unchanged runs before the baseline, for the pair verdict with history
ORACLE_RATE = 0.01  # the false-alarm rate the oracle runs at: the one loadkit is held to
ENDPOINT = ("GET", "/simulated")
CURRENT = "current"  # the label of the run judged


def _factor(series: str, run: int) -> float:
    if series == "+15% step":
        return 1.15 if run >= STEP_AT else 1.0
    if series == "+1.5% per run drift":
        return 1.015**run
    if series == "single +50% run":
        return 1.5 if run == STEP_AT else 1.0
    return 1.0


@dataclass
class SeriesCell:
    series: str
    n: int
    count: int = 0
    any_change: int = 0  # series with a change point anywhere (any quantile)
    at_step: int = 0  # with a change point at run STEP_AT (± 1)
    outlier_at_step: int = 0  # run STEP_AT reported as an outlier

    def share(self, hits: int) -> float:
        return hits / self.count if self.count else 0.0


def run_series(series: str, n: int, count: int, seed: int, model: Model) -> SeriesCell:
    rng = np.random.default_rng([seed, n, SERIES.index(series)])
    cell = SeriesCell(series, n)
    labels = [f"run-{i}" for i in range(SERIES_RUNS)]
    for _ in range(count):
        per_run = [
            {ENDPOINT: estimates.of_times(simulate(n, rng, model) * _factor(series, i))}
            for i in range(SERIES_RUNS)
        ]
        (found,) = history.of_estimates(labels, per_run)
        near = {labels[i] for i in (STEP_AT - 1, STEP_AT, STEP_AT + 1)}
        cell.count += 1
        cell.any_change += bool(found.change_points)
        cell.at_step += any(cp.run in near for cp in found.change_points)
        cell.outlier_at_step += any(o.run == labels[STEP_AT] for o in found.outliers)
    return cell


def judge_with_history(
    current: np.ndarray,
    baseline: np.ndarray,
    earlier: list[np.ndarray],
    alpha: float = ALPHA,
) -> str:
    """The endpoint verdict for (current, baseline), with ``earlier`` runs before the
    baseline in the same group: the path ``compare_runs`` takes, without the store."""
    return _judged([*earlier, baseline, current], alpha)[0]


def _judged(runs: list[np.ndarray], alpha: float) -> tuple[str, list[history.EndpointHistory]]:
    """The newest of ``runs`` judged against the one before it, the others earlier in its
    group: its verdict, and the history it was judged with (the newest labelled CURRENT)."""
    labels = [f"earlier-{i}" for i in range(len(runs) - 2)] + ["baseline", CURRENT]
    per_run = [{ENDPOINT: estimates.of_times(times)} for times in runs]
    found = history.of_estimates(labels, per_run)
    now, before = per_run[-1][ENDPOINT], per_run[-2][ENDPOINT]
    floor = floor_of(None)
    by_label = dict(zip(labels, per_run, strict=True))
    context = level_noise.pair_context(
        found, by_label, ENDPOINT, (now, before), "baseline", floor, alpha
    )
    (result,) = compare_endpoints(
        [(*ENDPOINT, runs[-1], runs[-2])], alpha, None, [context], [(now, before)]
    )
    return result.verdict, found


def log_ratios(current: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """log(current / baseline) of p50, p95 and p99."""
    ps = [p for _, p in verdict.QUANTILES]
    ratios: np.ndarray = np.log(np.quantile(current, ps) / np.quantile(baseline, ps))
    return ratios


@dataclass
class Oracle:
    """The test that knows the generator: from many unchanged pairs, the null distribution
    of each quantile's log ratio (its centre and spread) and of the largest of the three
    standardised, whose upper ORACLE_RATE quantile is the limit. It does not know the
    change, so, like loadkit's verdict of an endpoint, it judges the three quantiles as one
    family at ORACLE_RATE of false alarms."""

    centre: np.ndarray  # per quantile
    scale: np.ndarray
    limit: float  # of the largest standardised log ratio

    @classmethod
    def fit(cls, n: int, model: Model, pairs: int, seed: int) -> Oracle:
        rng = np.random.default_rng([seed, n, 99])
        return cls.of_null(
            [(simulate(n, rng, model), simulate(n, rng, model)) for _ in range(pairs)]
        )

    @classmethod
    def of_null(cls, pairs: list[tuple[np.ndarray, np.ndarray]]) -> Oracle:
        """From (current, baseline) pairs drawn without any change."""
        null = np.array([log_ratios(current, baseline) for current, baseline in pairs])
        centre, scale = np.median(null, axis=0), null.std(axis=0)
        largest = np.abs((null - centre) / scale).max(axis=1)
        return cls(centre, scale, float(np.quantile(largest, 1 - ORACLE_RATE)))

    def judge(self, current: np.ndarray, baseline: np.ndarray) -> str:
        standardised = (log_ratios(current, baseline) - self.centre) / self.scale
        largest = standardised[int(np.argmax(np.abs(standardised)))]
        if abs(largest) <= self.limit:
            return verdict.NO_CHANGE
        return verdict.REGRESSION if largest > 0 else verdict.IMPROVEMENT


@dataclass
class PairCell:
    """One scenario at one n, judged three ways: loadkit alone, loadkit with history, and
    the oracle."""

    scenario: str
    n: int
    alone: Cell
    with_history: Cell
    by_oracle: Cell

    @property
    def oracle(self) -> float:
        """The oracle's power (A/A: its false alarms, ORACLE_RATE by construction)."""
        return self.by_oracle.score


def run_pair_cell(
    scenario: str, n: int, pairs: int, seed: int, model: Model, oracle: Oracle
) -> PairCell:
    """Each pair judged three ways: alone, with EARLIER_RUNS runs before it, by the oracle."""
    rng = np.random.default_rng([seed, n, list(SCENARIOS).index(scenario), 7])
    cell = PairCell(scenario, n, Cell(scenario, n), Cell(scenario, n), Cell(scenario, n))
    for _ in range(pairs):
        current = simulate(n, rng, model, scenario)
        baseline = simulate(n, rng, model)
        earlier = [simulate(n, rng, model) for _ in range(EARLIER_RUNS)]
        said = [
            (cell.alone, judge(current, baseline)),
            (cell.with_history, judge_with_history(current, baseline, earlier)),
            (cell.by_oracle, oracle.judge(current, baseline)),
        ]
        for judged, outcome in said:
            judged.verdicts[outcome] += 1
            judged.pairs += 1
    return cell


NEWEST = ("unchanged", "+15% newest", "+30% newest")
NEWEST_FACTOR = {"unchanged": 1.0, "+15% newest": 1.15, "+30% newest": 1.30}


@dataclass
class NewestCell:
    """The gate's questions on a short history, the runs before the newest of ``prior + 1``
    all of the same code: does the newest start a slower level (any of p50, p95, p99), is
    its pair verdict a regression, and so does the gate fail?"""

    truth: str
    prior: int
    count: int = 0
    slower: int = 0  # histories whose newest run starts a slower level
    regression: int = 0  # whose newest run's pair verdict (against the run before it and
    # its level) is a regression
    failed: int = 0  # either of the two: what fails --fail-on-regression

    def of(self, hits: int) -> float:
        return hits / self.count if self.count else 0.0


def run_newest(truth: str, prior: int, n: int, count: int, seed: int, model: Model) -> NewestCell:
    """``count`` histories of ``prior`` unchanged runs and a newest one (``truth``), each of
    ``n`` timings, through the product's own history."""
    rng = np.random.default_rng([seed, n, prior, NEWEST.index(truth), 11])
    cell = NewestCell(truth, prior)
    for _ in range(count):
        times = [
            simulate(n, rng, model) * factor for factor in [1.0] * prior + [NEWEST_FACTOR[truth]]
        ]
        said, found = _judged(times, ALPHA)
        slower = bool(history.slower_levels(found, CURRENT))
        regressed = said == verdict.REGRESSION
        cell.count += 1
        cell.slower += slower
        cell.regression += regressed
        cell.failed += slower or regressed
    return cell

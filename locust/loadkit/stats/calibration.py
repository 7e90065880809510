"""Calibration of the verdict on simulated runs of known truth.

A simulated run is one endpoint's response times, in time order, built from:
- a log-normal body with Student-t innovations (heavy tails on the log scale);
- an AR(1) drift of the log level within the run: contention comes in waves, so the
  correlation time is a fixed share of the run (``waves`` per run), as it would be for a
  run of fixed duration whose request count grows with the request rate;
- a run-to-run level noise: two runs of the same code differ by a few percent;
- rare spikes: short stretches several times slower (a GC pause, a noisy neighbour).

Scenarios change the current run only, against a baseline drawn from the unchanged model:
A/A; the whole distribution 10 % and 25 % slower; a tail-only slowdown that leaves the
median alone and moves p95 by about 13 % and p99 by about 50 %; 20 % faster.
``python -m benchmarks.verdicts`` prints the table;
``tests/loadkit/test_verdict_calibration.py`` runs a small fixed-seed version of it and
asserts the floors.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter
from scipy.special import ndtri
from scipy.stats import t as student_t

from loadkit.core.defaults import ALPHA, MIN_CHANGE
from loadkit.stats import verdict


@dataclass(frozen=True)
class Model:
    median_ms: float = 50.0
    sigma: float = 0.3  # scale of the log-latency innovations
    tail_df: float = 5.0  # Student-t degrees of freedom of those innovations
    drift_sd: float = 0.10  # stationary sd of the AR(1) log-level drift
    waves: float = 100.0  # correlation times per run
    correlation_requests: float | None = None  # or a correlation time fixed in requests
    run_noise_sd: float = 0.02  # sd of a run's log level around the truth
    spike_rate: float = 5e-5  # spike starts per request
    spike_length: float = 10.0  # mean requests per spike
    spike_factor: tuple[float, float] = (2.0, 6.0)


def _tail_only(innovations: np.ndarray, df: float) -> np.ndarray:
    """Log-factor that leaves everything below about p80 alone and grows into the tail:
    p95 about +13 %, p99 about +50 % (as the table's 'true change' row shows)."""
    z = ndtri(student_t.cdf(innovations, df))
    factor: np.ndarray = 0.178 * np.maximum(0.0, z - 0.816) ** 2
    return factor


SCENARIOS: dict[str, Callable[[np.ndarray, np.ndarray, Model], np.ndarray]] = {
    "A/A": lambda log_ms, _e, _m: log_ms,
    "median +10%": lambda log_ms, _e, _m: log_ms + math.log(1.10),
    "median +25%": lambda log_ms, _e, _m: log_ms + math.log(1.25),
    "tail-only (p99 +50%)": lambda log_ms, e, m: log_ms + _tail_only(e, m.tail_df),
    "20% faster": lambda log_ms, _e, _m: log_ms + math.log(0.80),
}
EXPECTED = {  # the right verdict per scenario; anything else from the other side is wrong
    "A/A": verdict.NO_CHANGE,
    "median +10%": verdict.REGRESSION,
    "median +25%": verdict.REGRESSION,
    "tail-only (p99 +50%)": verdict.REGRESSION,
    "20% faster": verdict.IMPROVEMENT,
}


def simulate(n: int, rng: np.random.Generator, model: Model, scenario: str = "A/A") -> np.ndarray:
    """One run of ``n`` response times (ms), in time order."""
    steps = 1 / model.correlation_requests if model.correlation_requests else model.waves / n
    phi = math.exp(-steps)
    shocks = rng.normal(0.0, model.drift_sd * math.sqrt(1 - phi * phi), n)
    start = rng.normal(0.0, model.drift_sd)
    drift = lfilter([1.0], [1.0, -phi], shocks, zi=[phi * start])[0]
    innovations = rng.standard_t(model.tail_df, n)
    log_ms = (
        math.log(model.median_ms)
        + rng.normal(0.0, model.run_noise_sd)
        + drift
        + model.sigma * innovations
    )
    log_ms = SCENARIOS[scenario](log_ms, innovations, model)
    spikes = np.zeros(n)
    for begin in np.flatnonzero(rng.random(n) < model.spike_rate):
        length = int(rng.geometric(1 / model.spike_length))
        spikes[begin : begin + length] = math.log(rng.uniform(*model.spike_factor))
    return np.exp(log_ms + spikes)


@dataclass
class Cell:
    """One scenario at one n: how often each verdict came out."""

    scenario: str
    n: int
    pairs: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)

    def rate(self, *names: str) -> float:
        return sum(self.verdicts[name] for name in names) / self.pairs if self.pairs else 0.0

    @property
    def false_alarms(self) -> float:
        """A/A: any regression or improvement."""
        return self.rate(verdict.REGRESSION, verdict.IMPROVEMENT)

    @property
    def power(self) -> float:
        return self.rate(EXPECTED[self.scenario])

    @property
    def score(self) -> float:
        """What the tables show: A/A, the false alarms; any other scenario, the power."""
        return self.false_alarms if self.scenario == "A/A" else self.power

    @property
    def wrong_direction(self) -> float:
        wrong = {verdict.REGRESSION: verdict.IMPROVEMENT, verdict.IMPROVEMENT: verdict.REGRESSION}
        return self.rate(wrong.get(EXPECTED[self.scenario], ""))


def judge(
    current: np.ndarray,
    baseline: np.ndarray,
    alpha: float = ALPHA,
    min_change: Mapping[str, float] = MIN_CHANGE,
) -> str:
    """The endpoint verdict for one pair of runs, from the product's own function (one
    endpoint: Holm over its quantiles)."""
    from loadkit.stats.comparison import compare_samples

    return compare_samples("GET", "/simulated", current, baseline, alpha, dict(min_change)).verdict


def run_cell(
    scenario: str,
    n: int,
    pairs: int,
    seed: int,
    model: Model | None = None,
    alpha: float = ALPHA,
    min_change: Mapping[str, float] = MIN_CHANGE,
) -> Cell:
    model = model or Model()
    rng = np.random.default_rng([seed, n, list(SCENARIOS).index(scenario)])
    cell = Cell(scenario, n)
    for _ in range(pairs):
        current = simulate(n, rng, model, scenario)
        baseline = simulate(n, rng, model)
        cell.verdicts[judge(current, baseline, alpha, min_change)] += 1
        cell.pairs += 1
    return cell


def true_changes(scenario: str, model: Model | None = None, n: int = 400_000) -> dict[str, float]:
    """The scenario's real change of p50, p95 and p99, from one long run without noise."""
    model = model or Model()
    quiet = Model(**{**model.__dict__, "run_noise_sd": 0.0})
    # The same seed for both: the same drift, innovations and spikes, the scenario aside.
    now = simulate(n, np.random.default_rng(7), quiet, scenario)
    before = simulate(n, np.random.default_rng(7), quiet)
    return {
        name: float(np.quantile(now, p) / np.quantile(before, p) - 1)
        for name, p in verdict.QUANTILES
    }

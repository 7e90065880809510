"""A comparison of a run with a baseline, endpoint by endpoint, as the reports show it.

The verdict comes from ``loadkit.stats.verdict``: the change of p50, p95 and p99 with
intervals that respect autocorrelation, judged against practical thresholds, Holm across
the comparison. The two-sample Kolmogorov-Smirnov test stays beside it as a diagnostic of
shape (D and its p-value); it decides nothing. ``loadkit.stats.pair`` judges two stored
runs with this module.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from loadkit.core.defaults import ALPHA, MIN_CHANGE, UNMEASURED_GATE, UNMEASURED_QUANTILE
from loadkit.core.records import RunInfo
from loadkit.stats import estimates
from loadkit.stats import verdict as stats
from loadkit.stats.estimates import RunEstimates
from loadkit.stats.history import History
from loadkit.stats.level_noise import PairContext
from loadkit.stats.verdict import (
    IMPROVEMENT,
    INCONCLUSIVE,
    NO_CHANGE,
    NOT_ENOUGH_DATA,
    REGRESSION,
    QuantileChange,
)

__all__ = [
    "IMPROVEMENT",
    "INCONCLUSIVE",
    "NOT_ENOUGH_DATA",
    "NO_CHANGE",
    "REGRESSION",
    "Comparison",
    "EndpointComparison",
    "compare_samples",
]


@dataclass(frozen=True)
class EndpointComparison:
    method: str
    name: str
    current_count: int
    baseline_count: int
    d: float | None  # KS statistic: a diagnostic of shape, not the verdict
    p_value: float | None  # KS p-value (assumes independent draws: too small)
    current: dict[str, float | None]  # p50, p95, p99 in ms
    baseline: dict[str, float | None]
    change: dict[str, float | None]  # relative: +0.2 is 20 % slower
    verdict: str
    quantiles: list[QuantileChange] = field(default_factory=list)
    reason: str = ""  # the quantile that decided, with its interval
    # Per quantile, the run-to-run noise measured in history ("noise", relative), over how
    # many runs, and the smallest change the next run could detect ("detectable").
    noise: dict[str, dict[str, float]] = field(default_factory=dict)
    # --baseline history: per quantile, the runs of the level it was judged against.
    baseline_runs: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}"


@dataclass
class Comparison:
    current: RunInfo
    baseline: RunInfo | None
    alpha: float
    min_change: dict[str, float]
    endpoints: list[EndpointComparison] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The runs the endpoints were judged against: one, or each endpoint's level, all
    # together (--baseline history, or a baseline run with its level in history).
    baseline_runs: list[str] = field(default_factory=list)
    by_history: bool = False  # --baseline history
    history: History | None = None  # the comparable runs up to this one
    # A duet: the current run's candidate side against its baseline side, and per endpoint
    # the ratio of their p50, block by block over the run (relative).
    duet: bool = False
    blocks: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    # Sorted samples per endpoint, thinned, for the ECDF plots (not in the JSON).
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def regressions(self) -> list[EndpointComparison]:
        return [e for e in self.endpoints if e.verdict == REGRESSION]

    @property
    def noise_measured(self) -> bool:
        """Whether the noise between the two sides is measured: a duet's sides ran at once,
        and history measures it between runs; a sequential pair alone only guesses it."""
        return self.duet or any(e.noise for e in self.endpoints)

    @property
    def gating_regressions(self) -> list[EndpointComparison]:
        """The regressions that fail ``--fail-on-regression``: every one where the noise is
        measured; without, only those whose median's whole interval lies beyond
        +UNMEASURED_GATE, which a shared machine's noise between two runs does not reach
        (its tails do: a busy neighbour during one run multiplies them)."""
        if self.noise_measured:
            return self.regressions
        return [
            e
            for e in self.regressions
            if any(
                q.quantile == UNMEASURED_QUANTILE
                and q.outcome == REGRESSION
                and q.low is not None
                and q.low >= UNMEASURED_GATE
                for q in e.quantiles
            )
        ]

    @property
    def improvements(self) -> list[EndpointComparison]:
        return [e for e in self.endpoints if e.verdict == IMPROVEMENT]

    def summary(self) -> str:
        """One line: the verdict of the whole comparison."""
        if self.baseline is None:
            return "no baseline: nothing compared"
        counts = {
            v: sum(e.verdict == v for e in self.endpoints)
            for v in (REGRESSION, IMPROVEMENT, NO_CHANGE, INCONCLUSIVE, NOT_ENOUGH_DATA)
        }
        if self.regressions:
            head = "REGRESSION: " + "; ".join(f"{e.label} {e.reason}" for e in self.regressions)
        elif self.improvements:
            head = "improvement: " + "; ".join(f"{e.label} {e.reason}" for e in self.improvements)
        elif counts[NO_CHANGE]:
            head = "no significant change"
        else:
            head = "no verdict: too little data"
        tally = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        return f"{head} ({tally or 'no endpoints'}; against {self.baseline_text})"

    @property
    def baseline_text(self) -> str:
        if self.baseline is None:
            return "no baseline"
        if self.duet:
            return f"the baseline side of duet {self.current.label!r}"
        if len(self.baseline_runs) <= 1:
            return repr(self.baseline.label)
        first, last = self.baseline_runs[0], self.baseline_runs[-1]
        runs = f"{len(self.baseline_runs)} runs {first!r} to {last!r}"
        return (
            f"history: {runs}"
            if self.by_history
            else f"{self.baseline.label!r} and its level: {runs}"
        )

    def new_slower_levels(self) -> list[str]:
        """Where this run starts a slower level than its history's, one line each."""
        if self.history is None:
            return []
        return [
            f"{e.label} {cp.quantile} {cp.change:+.1%} (interval {cp.low:+.1%} to {cp.high:+.1%})"
            for e, cp in self.history.new_slower_levels(self.current)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": asdict(self.current),
            "baseline": asdict(self.baseline) if self.baseline else None,
            "alpha": self.alpha,
            "multiple_comparisons": "Holm over every (endpoint, quantile)",
            "min_change": self.min_change,
            "verdict": self.summary(),
            "warnings": self.warnings,
            "endpoints": [asdict(e) for e in self.endpoints],
            "regressions": [e.label for e in self.regressions],
            "noise_measured": self.noise_measured,
            "gating_regressions": [e.label for e in self.gating_regressions],
            "baseline_runs": self.baseline_runs,
            "new_slower_levels": self.new_slower_levels(),
            "history": self.history.to_dict() if self.history else None,
            "duet": self.duet,
            "blocks": {f"{m} {n}": ratios for (m, n), ratios in self.blocks.items()},
        }


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {name: None for name, _ in stats.QUANTILES}
    found = np.quantile(values, [p for _, p in stats.QUANTILES])
    return {name: float(v) for (name, _), v in zip(stats.QUANTILES, found, strict=True)}


def _endpoint(
    method: str,
    name: str,
    current: np.ndarray,
    baseline: np.ndarray,
    decided: tuple[str, list[QuantileChange]],
    context: PairContext,
) -> EndpointComparison:
    now, before = _percentiles(current), _percentiles(baseline)
    for quantile, pooled in context.baseline.items():
        before[quantile] = pooled.value
    change = {
        key: (now[key] - before[key]) / before[key]  # type: ignore[operator]
        if now[key] is not None and before[key]
        else None
        for key in now
    }
    d = p = None
    if current.size >= 2 and baseline.size >= 2:
        result = ks_2samp(current, baseline)
        d, p = float(result.statistic), float(result.pvalue)
    verdict, quantiles = decided
    return EndpointComparison(
        method,
        name,
        int(current.size),
        int(baseline.size),
        d,
        p,
        now,
        before,
        change,
        verdict,
        quantiles,
        stats.headline(quantiles, verdict),
        context.figures,
        context.baseline_runs,
    )


def compare_endpoints(
    timings: list[tuple[str, str, np.ndarray, np.ndarray]],
    alpha: float = ALPHA,
    min_change: dict[str, float] | None = None,
    contexts: list[PairContext] | None = None,
    found: list[tuple[RunEstimates, RunEstimates]] | None = None,
) -> list[EndpointComparison]:
    """Each (method, name, current, baseline), the timings **in time order**; Holm runs
    over all of them together. ``contexts`` hold what history adds to each endpoint,
    ``found`` the runs' estimates when they are known already."""
    thresholds = min_change or dict(MIN_CHANGE)
    contexts = contexts or [PairContext() for _ in timings]
    found = found or [
        (estimates.of_times(now), estimates.of_times(before)) for *_, now, before in timings
    ]
    pairs = [
        (now.quantiles, {**before.quantiles, **context.baseline})
        for (now, before), context in zip(found, contexts, strict=True)
    ]
    noise = {
        (index, quantile): measured
        for index, context in enumerate(contexts)
        for quantile, measured in context.noise.items()
    }
    decided = stats.decide(pairs, alpha, thresholds, noise)
    return [
        _endpoint(method, name, now, before, result, context)
        for (method, name, now, before), result, context in zip(
            timings, decided, contexts, strict=True
        )
    ]


def compare_samples(
    method: str,
    name: str,
    current: np.ndarray,
    baseline: np.ndarray,
    alpha: float = ALPHA,
    min_change: dict[str, float] | None = None,
) -> EndpointComparison:
    """One endpoint on its own (Holm over its three quantiles)."""
    return compare_endpoints([(method, name, current, baseline)], alpha, min_change)[0]


def thin(values: np.ndarray, points: int = 400) -> np.ndarray:
    """The sorted values at ``points`` evenly spaced ranks: enough to draw an ECDF."""
    ordered = np.sort(values)
    if ordered.size <= points:
        return ordered
    thinned: np.ndarray = ordered[np.linspace(0, ordered.size - 1, points).astype(int)]
    return thinned

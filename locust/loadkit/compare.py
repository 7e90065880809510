"""Compare a run with a baseline, endpoint by endpoint: the two-sample Kolmogorov-Smirnov
test on raw response times, percentiles, and a verdict.

A difference is significant only when p < alpha AND the KS statistic D >= min_effect: with
hundreds of thousands of samples KS flags shifts far too small to matter. The direction
comes from the median: slower is a regression, faster an improvement.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

from loadkit.defaults import ALPHA, MIN_EFFECT
from loadkit.results import ResultsStore, RunInfo

REGRESSION, IMPROVEMENT, NO_CHANGE = "regression", "improvement", "no significant change"
NOT_COMPARED = "not compared"
PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class EndpointComparison:
    method: str
    name: str
    current_count: int
    baseline_count: int
    d: float | None
    p_value: float | None
    current: dict[str, float | None]  # p50, p95, p99 in ms
    baseline: dict[str, float | None]
    change: dict[str, float | None]  # relative: +0.2 is 20 % slower
    verdict: str


@dataclass
class Comparison:
    current: RunInfo
    baseline: RunInfo | None
    alpha: float
    min_effect: float
    endpoints: list[EndpointComparison] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Sorted samples per endpoint, thinned, for the ECDF plots (not in the JSON).
    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def regressions(self) -> list[EndpointComparison]:
        return [e for e in self.endpoints if e.verdict == REGRESSION]

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": asdict(self.current),
            "baseline": asdict(self.baseline) if self.baseline else None,
            "alpha": self.alpha,
            "min_effect": self.min_effect,
            "warnings": self.warnings,
            "endpoints": [asdict(e) for e in self.endpoints],
            "regressions": [f"{e.method} {e.name}" for e in self.regressions],
        }


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {f"p{p}": None for p in PERCENTILES}
    found = np.percentile(values, PERCENTILES)
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, found, strict=True)}


def compare_samples(
    method: str,
    name: str,
    current: np.ndarray,
    baseline: np.ndarray,
    alpha: float,
    min_effect: float,
) -> EndpointComparison:
    now, before = _percentiles(current), _percentiles(baseline)
    change = {
        key: (now[key] - before[key]) / before[key]  # type: ignore[operator]
        if now[key] is not None and before[key]
        else None
        for key in now
    }
    d = p = None
    verdict = NOT_COMPARED
    if current.size >= 2 and baseline.size >= 2:
        result = ks_2samp(current, baseline)
        d, p = float(result.statistic), float(result.pvalue)
        verdict = NO_CHANGE
        if p < alpha and d >= min_effect:
            verdict = REGRESSION if np.median(current) > np.median(baseline) else IMPROVEMENT
    return EndpointComparison(
        method, name, int(current.size), int(baseline.size), d, p, now, before, change, verdict
    )


def comparability_warnings(current: RunInfo, baseline: RunInfo) -> list[str]:
    warnings = []
    if current.locustfile_hash != baseline.locustfile_hash:
        warnings.append("the runs used different locustfiles")
    if current.users != baseline.users:
        warnings.append(f"the runs had different users: {current.users} vs {baseline.users}")
    if current.host != baseline.host:
        warnings.append(f"the runs tested different hosts: {current.host} vs {baseline.host}")
    return warnings


def _thin(values: np.ndarray, points: int = 400) -> np.ndarray:
    """The sorted values at ``points`` evenly spaced ranks: enough to draw an ECDF."""
    ordered = np.sort(values)
    if ordered.size <= points:
        return ordered
    return ordered[np.linspace(0, ordered.size - 1, points).astype(int)]


def compare_runs(
    store: ResultsStore,
    current_label: str,
    baseline_label: str,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> Comparison:
    """``baseline_label`` may be "previous": the last earlier run comparable to this one."""
    current = store.run(current_label)
    if current is None:
        raise LookupError(f"no run labelled {current_label!r} in {store.path}")
    if baseline_label == "previous":
        baseline = store.previous_comparable(current)
        if baseline is None:
            comparison = Comparison(current, None, alpha, min_effect)
            comparison.warnings.append("no earlier comparable run: nothing to compare with")
            return comparison
    else:
        baseline = store.run(baseline_label)
        if baseline is None:
            raise LookupError(f"no run labelled {baseline_label!r} in {store.path}")
    comparison = Comparison(current, baseline, alpha, min_effect)
    comparison.warnings = comparability_warnings(current, baseline)
    endpoints = sorted(
        set(store.endpoints(current.id)) | set(store.endpoints(baseline.id)),
        key=lambda e: (e[1], e[0]),
    )
    for method, name in endpoints:
        now = store.response_times(current.id, (method, name))
        before = store.response_times(baseline.id, (method, name))
        comparison.endpoints.append(compare_samples(method, name, now, before, alpha, min_effect))
        comparison.curves[(method, name)] = (_thin(now), _thin(before))
    return comparison

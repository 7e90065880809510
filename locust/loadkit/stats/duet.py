"""The duet's verdict: the baseline and the candidate ran under load at the same time, on
one machine, so whatever the machine did (its frequency, its neighbours, its caches) it did
to both. Per endpoint and quantile, the change is the candidate/baseline ratio of the two
sides' quantiles; its interval comes from the time blocks in which both sides ran
together (paired batch means: in each block, the log ratio of the sides' quantiles, whose
spread over the blocks gives the variance of their mean, with blocks - 1 degrees of
freedom). A slow stretch of the machine lifts both sides within its block and cancels in
that block's ratio; what is left is what the two services do differently.

The thresholds, ``--min-change``, Holm across endpoints and quantiles, and the words of
the verdict are the pair verdict's (``loadkit.stats.verdict.decide``, to which the paired
variance is handed as a ``Noise`` that is always taken). The duet assumes that both sides
suffer the machine alike; an A/A duet (the same code on both sides) is how a user checks
that it holds on theirs. ``loadkit.stats.calibration_duet`` measures it on data of known
truth.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from loadkit.core.defaults import ALPHA, MIN_CHANGE
from loadkit.core.records import RunInfo
from loadkit.stats import estimates
from loadkit.stats.comparison import Comparison, EndpointComparison, compare_endpoints, thin
from loadkit.stats.level_noise import PairContext
from loadkit.stats.verdict import (
    FLOOR_MS,
    MIN_BLOCKS,
    MIN_TAIL,
    QUANTILES,
    SMALL_COUNT,
    SMALL_COUNT_CHANGE,
    Noise,
    blocks_for,
)

MIN_IN_BLOCK = 2  # timings of each side in a block before the block counts


@dataclass(frozen=True)
class Side:
    """One side's successful timings of one endpoint, ramp-up out, in time order."""

    ts: np.ndarray  # request start, seconds
    ms: np.ndarray

    @property
    def size(self) -> int:
        return int(self.ms.size)


def overlap(baseline: Side, candidate: Side) -> tuple[Side, Side]:
    """Each side within the time both sides ran (nothing when one of them has none)."""
    if not baseline.size or not candidate.size:
        empty = Side(np.empty(0), np.empty(0))
        return empty, empty
    start = max(float(baseline.ts[0]), float(candidate.ts[0]))
    stop = min(float(baseline.ts[-1]), float(candidate.ts[-1]))

    def within(side: Side) -> Side:
        keep = (side.ts >= start) & (side.ts <= stop)
        return Side(side.ts[keep], side.ms[keep])

    return within(baseline), within(candidate)


def block_ratios(baseline: Side, candidate: Side) -> np.ndarray:
    """Per time block in which both sides ran (rows), the log ratio of the sides' p50, p95
    and p99 (columns). ``blocks_for`` the smaller side's count, over their common span."""
    blocks = blocks_for(min(baseline.size, candidate.size))
    if blocks < MIN_BLOCKS:
        return np.empty((0, len(QUANTILES)))
    start = float(min(baseline.ts[0], candidate.ts[0]))
    span = float(max(baseline.ts[-1], candidate.ts[-1])) - start or 1.0
    ps = [p for _, p in QUANTILES]

    def per_block(side: Side) -> list[np.ndarray | None]:
        index = np.minimum(((side.ts - start) / span * blocks).astype(int), blocks - 1)
        order = np.argsort(index, kind="stable")
        bounds = np.searchsorted(index[order], np.arange(blocks + 1))
        values = np.maximum(side.ms[order], FLOOR_MS)
        return [
            np.log(np.quantile(values[a:b], ps)) if b - a >= MIN_IN_BLOCK else None
            for a, b in itertools.pairwise(bounds)
        ]

    rows = [
        c - b
        for b, c in zip(per_block(baseline), per_block(candidate), strict=True)
        if b is not None and c is not None
    ]
    return np.array(rows) if rows else np.empty((0, len(QUANTILES)))


@dataclass(frozen=True)
class Paired:
    """One endpoint's two sides within the time both ran, and their block ratios
    (``block_ratios``), computed once for the interval and the report alike."""

    baseline: Side
    candidate: Side
    ratios: np.ndarray


def pairing(baseline: Side, candidate: Side) -> Paired:
    within = overlap(baseline, candidate)
    return Paired(*within, block_ratios(*within))


def paired_noise(paired: Paired, min_change: dict[str, float]) -> dict[str, Noise]:
    """Per quantile with enough timings on both sides (the pair verdict's own rule), the
    variance of the log ratio from the blocks, its degrees of freedom and the threshold."""
    ratios = paired.ratios
    blocks = ratios.shape[0]
    if blocks < max(MIN_BLOCKS // 2, 3):
        return {}
    count = min(paired.baseline.size, paired.candidate.size)
    found = {}
    for column, (name, p) in enumerate(QUANTILES):
        if count * (1 - p) < MIN_TAIL:
            continue
        variance = float(ratios[:, column].var(ddof=1)) / blocks
        threshold = min_change[name]
        if count < SMALL_COUNT:
            threshold = max(threshold, SMALL_COUNT_CHANGE)
        found[name] = Noise(variance, blocks - 1.0, threshold, None, paired=True)
    return found


def compare_paired(
    endpoints: list[tuple[str, str, Paired]],
    alpha: float = ALPHA,
    min_change: dict[str, float] | None = None,
) -> list[EndpointComparison]:
    """Each (method, name, paired sides), judged as a duet; Holm runs over all of them
    together. The candidate is the comparison's current run."""
    thresholds = min_change or dict(MIN_CHANGE)
    contexts = [PairContext(noise=paired_noise(p, thresholds)) for *_, p in endpoints]
    found = [
        (estimates.of_times(p.candidate.ms), estimates.of_times(p.baseline.ms))
        for *_, p in endpoints
    ]
    timings = [(m, n, p.candidate.ms, p.baseline.ms) for m, n, p in endpoints]
    return compare_endpoints(timings, alpha, thresholds, contexts, found)


def compare_duet(
    endpoints: list[tuple[str, str, Side, Side]],
    alpha: float = ALPHA,
    min_change: dict[str, float] | None = None,
) -> list[EndpointComparison]:
    """Each (method, name, baseline side, candidate side), judged as a duet."""
    return compare_paired([(m, n, pairing(b, c)) for m, n, b, c in endpoints], alpha, min_change)


def block_series(paired: Paired) -> list[float]:
    """The candidate/baseline ratio of p50, block by block (relative): the report's view
    of whether the difference held throughout the run."""
    ratios = paired.ratios
    return [math.expm1(float(r)) for r in ratios[:, 0]] if ratios.size else []


@dataclass(frozen=True)
class DuetInputs:
    """What a duet's verdict reads of a store, in one value: the run, and per endpoint
    (method, name, baseline side, candidate side)."""

    run: RunInfo
    endpoints: list[tuple[str, str, Side, Side]]


def judge(
    inputs: DuetInputs, alpha: float = ALPHA, min_change: dict[str, float] | None = None
) -> Comparison:
    """The duet's candidate side against its baseline side, as a ``Comparison``."""
    run = inputs.run
    comparison = Comparison(run, run, alpha, min_change or dict(MIN_CHANGE), duet=True)
    comparison.baseline_runs = [run.label]
    paired = [(m, n, pairing(b, c)) for m, n, b, c in inputs.endpoints]
    comparison.endpoints = compare_paired(paired, alpha, min_change)
    for (method, name, baseline, candidate), (*_, both) in zip(
        inputs.endpoints, paired, strict=True
    ):
        comparison.curves[(method, name)] = (thin(candidate.ms), thin(baseline.ms))
        comparison.blocks[(method, name)] = block_series(both)
    if not inputs.endpoints:
        comparison.warnings.append("no endpoint was timed on both sides of the duet")
    return comparison

"""The summary of a run's samples: pure arithmetic, run in the thread pool.

A run is summarized from the figures of each of its blocks (samples.py), which are cached
by block and version: a request reads only the blocks written since the last one, and
merges the cached figures. ``summarize`` is the definition, computed from every sample; the
merge gives the same answer whenever the blocks follow one another in time, and the caller
falls back to ``summarize`` when they don't (a client that sent seqs out of time order).
"""

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rest_service.domain.schemas import FieldSummary, Summary

Point = tuple[int, float]  # (timestamp in ms since the epoch, cpu percent)
Figures = dict[str, list[float]]  # optional field -> its values (sorted where said)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _above_ms(ordered: Sequence[Point], threshold: float) -> int:
    """For each sample strictly above the threshold, the time until the next one."""
    return sum(
        next_ts - ts
        for (ts, value), (next_ts, _) in itertools.pairwise(ordered)
        if value > threshold
    )


def _field_summary(values: list[float]) -> FieldSummary:
    """``values`` sorted, at least one."""
    return FieldSummary(
        count=len(values),
        avg=sum(values) / len(values),
        p95=percentile(values, 0.95),
        max=values[-1],
    )


def _summary(
    values: list[float],
    above_ms: int | None,
    threshold: float | None,
    started_at: datetime,
    ended_at: datetime,
    figures: Figures,
) -> Summary:
    """``values``: every CPU value, sorted; ``figures``: each optional field's, sorted."""
    duration = max((ended_at - started_at).total_seconds(), 0.0)
    if not values:
        return Summary(
            sample_count=0,
            cpu_avg=None,
            cpu_max=None,
            cpu_p95=None,
            duration_seconds=duration,
            time_above_threshold_seconds=None if threshold is None else 0.0,
        )
    return Summary(
        sample_count=len(values),
        cpu_avg=sum(values) / len(values),
        cpu_max=values[-1],
        cpu_p95=percentile(values, 0.95),
        duration_seconds=duration,
        time_above_threshold_seconds=None if above_ms is None else above_ms / 1000,
        fields={name: _field_summary(found) for name, found in figures.items() if found},
    )


def merge_figures(parts: Iterable[Figures]) -> Figures:
    """Each field's values from several blocks, in their order."""
    merged: Figures = {}
    for part in parts:
        for name, values in part.items():
            merged.setdefault(name, []).extend(values)
    return merged


def _sorted(figures: Figures) -> Figures:
    return {name: sorted(values) for name, values in figures.items()}


def summarize(
    points: list[Point],
    threshold: float | None,
    started_at: datetime,
    ended_at: datetime,
    figures: Figures | None = None,
) -> Summary:
    """``points`` in seq order. Time above the threshold adds, for each sample strictly
    above it, the time until the next sample in time order (ties keep seq order); the last
    sample adds nothing."""
    ordered = sorted(points, key=lambda p: p[0])  # stable: ties keep seq order
    above = None if threshold is None else _above_ms(ordered, threshold)
    values = sorted(value for _, value in points)
    return _summary(values, above, threshold, started_at, ended_at, _sorted(figures or {}))


@dataclass(frozen=True)
class BlockFigures:
    """What the summary needs of one block's samples."""

    values: list[float]  # sorted
    first: Point  # the earliest sample (the lowest seq among ties)
    last: Point  # the latest (the highest seq among ties)
    above_ms: int  # time above the threshold between the block's own samples
    figures: Figures  # sorted


def block_figures(
    points: list[Point], threshold: float | None, figures: Figures | None = None
) -> BlockFigures | None:
    """``points`` of one block in seq order; None for a block with none."""
    if not points:
        return None
    ordered = sorted(points, key=lambda p: p[0])
    above = 0 if threshold is None else _above_ms(ordered, threshold)
    return BlockFigures(
        sorted(v for _, v in points), ordered[0], ordered[-1], above, _sorted(figures or {})
    )


def combine(
    blocks: list[BlockFigures],
    threshold: float | None,
    started_at: datetime,
    ended_at: datetime,
) -> Summary | None:
    """The run's summary from its blocks' figures, in block order; None when one block's
    samples do not all come before the next block's in time (then only ``summarize`` knows)."""
    for before, after in itertools.pairwise(blocks):
        if before.last[0] > after.first[0]:
            return None
    values = sorted(itertools.chain.from_iterable(b.values for b in blocks))
    above: int | None = None
    if threshold is not None:
        above = sum(b.above_ms for b in blocks) + sum(
            after.first[0] - before.last[0]
            for before, after in itertools.pairwise(blocks)
            if before.last[1] > threshold
        )
    merged = merge_figures(block.figures for block in blocks)
    return _summary(values, above, threshold, started_at, ended_at, _sorted(merged))

"""Change points and outliers in a series of runs, each run one estimate with its own
standard error: the log of one endpoint's p50, p95 or p99, run after run.

The method is Apache Otava's (E-divisive means, Matteson and James, "A nonparametric
approach for multiple change point analysis of multivariate data", JASA 2014, with the split
and merge steps of Fleming et al., "Hunter: using change point detection to hunt for
performance regressions", ICPE 2023), taken further in three ways:

- **Each run is weighted by its own interval.** A run is an estimate, not a bare number:
  its variance is its within-run variance (autocorrelation-aware, from ``loadkit.stats.verdict``)
  plus the between-run variance of the endpoint, estimated from the series itself (method
  of moments within the levels found). The levels are weighted means, and a split is
  judged by the weighted difference of its two levels in units of its standard error.
- **The p-value of a split accounts for its search.** E-divisive picks the split that
  separates the series best; a t-test at that split would then be far too optimistic. The
  split's weighted t is compared with the same search on series simulated from the runs'
  own variances, and on the same runs in random orders (the permutation test of
  E-divisive itself), and must pass both (``_best_split`` says why).
- **A single outlying run is an outlier, never a level.** Before any split, a run that
  differs significantly from both the runs before it and the runs after it, in the same
  direction, is set aside as an outlier; a level needs at least two runs. Only the newest
  run (or two) may stand at a new level of their own, judged against a prediction
  interval of the runs of the level before them: nothing after them can yet tell a new
  level from an outlier, and the gate needs to know at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri, stdtr

from loadkit.stats.verdict import critical

ALPHA = 0.005  # per series and quantile: the newest runs' test, and the merge step
ALPHA_SIMULATED, ALPHA_PERMUTED = 0.005, 0.02  # a split must pass both of its nulls
SIMULATIONS = 399  # null series per split's p-value (p from 1/400)
# A split whose weighted t is below this is not simulated: a single t beyond it is already
# more common than ALPHA_SIMULATED without any change, and the search only adds to that.
PLAINLY_NOISE = 2.5
NEIGHBOURS = 3  # runs on each side that say where an outlier's level is
MIN_LEVEL = 2  # runs per level found by E-divisive
MIN_PRIOR, MAX_PRIOR = 3, 10  # runs before the newest that can say they left their level


@dataclass(frozen=True)
class Change:
    """A new level from run ``index`` on: the change of the log level and its interval."""

    index: int
    log_change: float
    low: float
    high: float
    p_value: float


@dataclass(frozen=True)
class Segmentation:
    change_points: list[Change]
    outliers: list[tuple[int, float]]  # (index, log distance to its level)


def between_variance(y: np.ndarray, var: np.ndarray, levels: list[np.ndarray]) -> float:
    """Method of moments: the spread of the runs around their level's mean beyond what
    their own variances explain."""
    excess, df = 0.0, 0
    for index in levels:
        if index.size < 2:
            continue
        part = y[index]
        excess += float(((part - part.mean()) ** 2).sum() - var[index].sum() * (1 - 1 / index.size))
        df += index.size - 1
    return max(0.0, excess / df) if df else 0.0


def _robust_between_variance(y: np.ndarray, var: np.ndarray) -> float:
    """From successive differences, which are centred on 0 within a level: a step moves
    one of them, not the median of their sizes."""
    if y.size < 2:
        return 0.0
    spread = 1.4826 * float(np.median(np.abs(np.diff(y))))
    return max(0.0, spread * spread / 2 - float(np.median(var)))


def _outlying(y: np.ndarray, var: np.ndarray, i: int, set_aside: set[int], z: float) -> bool:
    """Whether run ``i`` lies away from the runs on both sides of it (the other outliers
    ``set_aside``), the same way, by more than ``z`` of its spread. The noise it is judged
    by comes from the other runs: an outlier's own jumps must not hide it."""
    n = y.size
    # The newest run may be a new level: it says nothing of the noise within one.
    others = np.array([j for j in range(n - 1) if j != i and j not in set_aside], dtype=int)
    if others.size < MIN_PRIOR:  # too few runs to know their noise
        return False
    tau2 = _robust_between_variance(y[others], var[others])
    before = [j for j in range(i - 1, -1, -1) if j not in set_aside][:NEIGHBOURS]
    after = [j for j in range(i + 1, n) if j not in set_aside][:NEIGHBOURS]
    if len(after) < (2 if not before else 1):
        return False
    gaps = []
    for side in (before, after):
        if not side:
            continue
        level = float(np.median(y[side]))
        spread = math.sqrt(
            var[i] + tau2 + (float(np.mean(var[side])) + tau2) * math.pi / 2 / len(side)
        )
        gaps.append((y[i] - level) / spread)
    same_way = all(g > 0 for g in gaps) or all(g < 0 for g in gaps)
    return same_way and min(abs(g) for g in gaps) > z


def find_outliers(y: np.ndarray, var: np.ndarray, alpha: float) -> list[int]:
    """Runs that lie away from the level on both sides of them, the same way; judged again
    once an outlier is set aside, until nothing changes (one outlier can hide another)."""
    n = y.size
    z = float(ndtri(1 - alpha / 2 / max(n, 1)))
    found: set[int] = set()
    for _ in range(n):
        # The newest run may be a new level: never an outlier yet.
        now = {i for i in range(n - 1) if _outlying(y, var, i, found - {i}, z)}
        if now == found:
            break
        found = now
    return sorted(found)


def _split_statistics(y: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, ...]:
    """For series ``y`` (B x m) of runs with variances ``var`` (B x m): each split's
    E-divisive statistic and weighted t (B x K), and the splits K (the first index of the
    right part)."""
    b, m = y.shape
    splits = np.arange(MIN_LEVEL, m - MIN_LEVEL + 1)
    if splits.size == 0:
        return splits, np.zeros((b, 0)), np.zeros((b, 0))
    # E-divisive: every pairwise distance, summed within and across the two parts. Run i
    # adds its distances to the runs before it to the left part's sum once the left part
    # holds it; its distances to every run, to the sum of the rows the left part holds.
    distance = np.abs(y[:, :, None] - y[:, None, :])
    earlier = np.tril(np.ones((m, m)), -1)
    to_earlier = np.einsum("bij,ij->bi", distance, earlier)
    zero = np.zeros((b, 1))
    within_prefix = np.concatenate([zero, 2 * to_earlier.cumsum(1)], axis=1)
    rows_prefix = np.concatenate([zero, distance.sum(2).cumsum(1)], axis=1)
    left_n, right_n = splits.astype(float), (m - splits).astype(float)
    within_left = within_prefix[:, splits]
    cross = rows_prefix[:, splits] - within_left
    within_right = rows_prefix[:, m, None] - 2 * rows_prefix[:, splits] + within_left
    pairs_right = right_n * (right_n - 1)
    energy = (left_n * right_n / m) * (
        2 * cross / (left_n * right_n)
        - within_left / (left_n * (left_n - 1))
        - within_right / pairs_right
    )
    # The weighted t: the between-run variance under each split, then each level's mean.
    s1 = np.concatenate([np.zeros((b, 1)), y.cumsum(1)], axis=1)
    s2 = np.concatenate([np.zeros((b, 1)), (y * y).cumsum(1)], axis=1)
    sv = np.concatenate([np.zeros((b, 1)), var.cumsum(1)], axis=1)
    ss = (s2[:, splits] - s1[:, splits] ** 2 / left_n) + (
        (s2[:, m, None] - s2[:, splits]) - (s1[:, m, None] - s1[:, splits]) ** 2 / right_n
    )
    own = sv[:, splits] * (1 - 1 / left_n) + (sv[:, m, None] - sv[:, splits]) * (1 - 1 / right_n)
    tau2 = np.maximum(0.0, (ss - own) / max(m - 2, 1))
    weights = 1 / (var[:, None, :] + tau2[:, :, None])  # B x K x m
    left_mask = (np.arange(m)[None, :] < splits[:, None]).astype(np.float64)  # K x m
    w_all = weights.sum(2)
    w_left = np.einsum("bkm,km->bk", weights, left_mask)
    w_right = w_all - w_left
    wy = np.einsum("bkm,bm->bk", weights, y)
    wy_left = np.einsum("bkm,km,bm->bk", weights, left_mask, y)
    mean_left = wy_left / w_left
    mean_right = (wy - wy_left) / w_right
    t = (mean_right - mean_left) / np.sqrt(1 / w_left + 1 / w_right)
    return splits, energy, t


def _search_p_value(observed: float, y: np.ndarray, var: np.ndarray) -> float:
    """How often the same search finds a split as strong in the null series ``y`` (B x m)
    of runs with variances ``var`` (B x m)."""
    _, energy, t = _split_statistics(y, var)
    picked = np.abs(t[np.arange(y.shape[0]), np.argmax(energy, axis=1)])
    return (1 + int((picked >= observed).sum())) / (int(y.shape[0]) + 1)


def _best_split(
    y: np.ndarray, var: np.ndarray, rng: np.random.Generator
) -> tuple[int, bool] | None:
    """The split E-divisive picks in ``y``, and whether it is significant. Two nulls must
    both reject it: series simulated from the runs' own variances and the noise between
    them (fine enough to reach ALPHA_SIMULATED on a few runs), and the runs themselves in
    random orders (Matteson and James's own test: it needs no model of the noise, so heavy
    tails between runs, as p99 has, make no false levels; but among m runs it cannot go
    below about one in the number of ways to split them)."""
    splits, energy, t = _split_statistics(y[None, :], var[None, :])
    if splits.size == 0:
        return None
    pick = int(np.argmax(energy[0]))
    observed = abs(float(t[0, pick]))
    if observed < PLAINLY_NOISE:
        return int(splits[pick]), False
    tau2 = between_variance(y, var, [np.arange(y.size)])
    spread = np.broadcast_to(var, (SIMULATIONS, y.size))
    simulated = rng.normal(0.0, np.sqrt(var + tau2), (SIMULATIONS, y.size))
    if _search_p_value(observed, simulated, spread) > ALPHA_SIMULATED:
        return int(splits[pick]), False
    order = rng.permuted(np.tile(np.arange(y.size), (SIMULATIONS, 1)), axis=1)
    permuted = _search_p_value(observed, y[order], var[order])
    return int(splits[pick]), permuted <= ALPHA_PERMUTED


def _change(
    y: np.ndarray, var: np.ndarray, left: np.ndarray, right: np.ndarray, alpha: float
) -> Change:
    """The change between two adjacent levels, with its interval at ``1 - alpha``."""
    tau2 = between_variance(y, var, [left, right])
    w_left, w_right = 1 / (var[left] + tau2), 1 / (var[right] + tau2)
    diff = float(w_right @ y[right] / w_right.sum() - w_left @ y[left] / w_left.sum())
    se = math.sqrt(1 / w_left.sum() + 1 / w_right.sum())
    df = max(left.size + right.size - 2, 1)
    half = critical(alpha, df) * se
    p_value = float(2 * stdtr(df, -abs(diff) / se)) if se > 0 else 0.0
    return Change(int(right[0]), diff, diff - half, diff + half, p_value)


def _newest_change(
    y: np.ndarray, var: np.ndarray, level: np.ndarray, alpha: float, floor: float, k: int
) -> Change | None:
    """Whether the newest ``k`` runs left the level they end (``level``, indices of ``y``):
    against a prediction interval of the runs before them in that level (at least
    MIN_PRIOR of them, the newest MAX_PRIOR), Student's t with their degrees of freedom.
    A permutation test cannot say this: among m runs, the newest is the most extreme by
    chance once in m."""
    prior, newest = level[:-k][-MAX_PRIOR:], level[-k:]
    if prior.size < MIN_PRIOR:
        return None
    # A run strays from its level by at least its own interval, however close a few runs
    # fell: with three runs (two degrees of freedom) their sample variance alone is often
    # far below that, and a run of the same code would then seem to leave its level.
    own = float(var[prior].mean())
    spread = max(float(y[prior].var(ddof=1)), own)
    mean = float(y[prior].mean())
    # Each of the newest runs must have left: the one nearer the level is judged, so that
    # an outlier next to a run at the level makes no new level of two.
    gaps = y[newest] - mean
    if k > 1 and not (np.all(gaps > 0) or np.all(gaps < 0)):
        return None
    nearest = int(newest[np.argmin(np.abs(gaps))])
    excess = max(0.0, float(var[nearest]) - own)
    se = math.sqrt(spread / prior.size + spread + excess)
    df = prior.size - 1
    p_value = min(1.0, 2 * float(stdtr(df, -abs(y[nearest] - mean) / se))) if se > 0 else 0.0
    diff = float(gaps.mean())
    if p_value > alpha or abs(math.expm1(diff)) < floor:
        return None
    half = critical(alpha, df) * math.sqrt(spread / prior.size + spread / k + excess / k)
    return Change(int(newest[0]), diff, diff - half, diff + half, p_value)


def _cuts(
    y: np.ndarray, var: np.ndarray, kept: np.ndarray, alpha: float, floor: float, seed: int
) -> list[int]:
    """Where the levels of ``y[kept]`` begin (positions in ``kept``, the first aside): the
    split step, then the merge step."""
    rng = np.random.default_rng(seed)
    # Split: E-divisive, one level at a time, while the best split is significant.
    cuts: list[int] = []
    pending = [(0, kept.size)]
    while pending:
        start, stop = pending.pop()
        if stop - start < 2 * MIN_LEVEL:
            continue
        part = kept[start:stop]
        found = _best_split(y[part], var[part], rng)
        if found is None or not found[1]:
            continue
        cut = start + found[0]
        cuts.append(cut)
        pending += [(start, cut), (cut, stop)]
    # Merge: drop the weakest change while one is not significant (or below the floor)
    # between its two adjacent levels, as Otava's merge step does.
    cuts.sort()
    while cuts:
        bounds = [0, *cuts, kept.size]
        changes = [
            _change(
                y, var, kept[bounds[i] : bounds[i + 1]], kept[bounds[i + 1] : bounds[i + 2]], alpha
            )
            for i in range(len(cuts))
        ]
        weakest = max(range(len(cuts)), key=lambda i: changes[i].p_value)
        small = [i for i, c in enumerate(changes) if abs(math.expm1(c.log_change)) < floor]
        if changes[weakest].p_value > alpha:
            del cuts[weakest]
        elif small:
            del cuts[min(small, key=lambda i: abs(changes[i].log_change))]
        else:
            break
    return cuts


def segment(
    y: np.ndarray,
    se: np.ndarray,
    alpha: float = ALPHA,
    floor: float = 0.0,
    seed: int = 0,
) -> Segmentation:
    """Change points and outliers of the series ``y`` (log estimates, oldest first) with
    standard errors ``se``. A change smaller than ``floor`` (relative) is no change.

    The newest run is judged apart, against the levels of the runs before it: a newest
    run at a new level would otherwise blur the split of every level before it. Unless it
    left, it joins the last level, and the newest two runs are judged together."""
    y = np.asarray(y, dtype=np.float64)
    var = np.asarray(se, dtype=np.float64) ** 2
    n = y.size
    outliers = find_outliers(y, var, alpha)
    kept = np.array([i for i in range(n) if i not in outliers], dtype=int)

    def levels_of(indices: np.ndarray) -> list[np.ndarray]:
        bounds = [0, *_cuts(y, var, indices, alpha, floor, seed), indices.size]
        return [indices[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]

    levels = levels_of(kept[:-1]) if kept.size > 1 else [kept]
    newest = _newest_change(y, var, np.r_[levels[-1], kept[-1:]], alpha, floor, 1)
    if newest is not None:
        levels.append(kept[-1:])
    else:
        levels[-1] = np.r_[levels[-1], kept[-1:]]
        newest = _newest_change(y, var, levels[-1], alpha, floor, 2)
        if newest is not None:
            levels[-1:] = [levels[-1][:-2], levels[-1][-2:]]
    changes = [_change(y, var, levels[i], levels[i + 1], alpha) for i in range(len(levels) - 1)]
    if newest is not None:
        changes[-1] = newest
    outlying = []
    for i in outliers:  # against the level it interrupts (the first, before any)
        level = next((lv for lv in reversed(levels) if lv.size and lv[0] < i), levels[0])
        outlying.append((i, float(y[i] - np.median(y[level])) if level.size else 0.0))
    return Segmentation(changes, outlying)

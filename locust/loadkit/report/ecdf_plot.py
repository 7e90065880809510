"""Two runs' ECDFs as an inline SVG: gridlines, a log x axis when the times span more than a
factor of 20, each run's p50, p95 and p99 marked on its own curve."""

import math
from html import escape

import numpy as np

from loadkit.stats.verdict import QUANTILES

COLOURS = {"current": "#e4572e", "baseline": "#3f88c5"}


def _nice_ticks(low: float, high: float, log: bool) -> list[float]:
    if log:
        ticks = [
            m * 10.0**e
            for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
            for m in (1, 2, 5)
        ]
        return [t for t in ticks if low <= t <= high]
    step = 10 ** math.floor(math.log10((high - low) / 4 or 1))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= 6:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def svg(current: np.ndarray, baseline: np.ndarray, title: str) -> str:
    """Both runs' ECDFs, with y ticks and gridlines, a log x axis when the times span more
    than a factor of 20, and each run's p50/p95/p99 marked on its own curve."""
    width, height, left, right, top_pad, bottom = 480, 260, 48, 30, 28, 40
    both = np.concatenate([current, baseline])
    if both.size == 0:
        return ""
    low = max(float(np.min(both)), 1e-3)
    high = max(float(np.percentile(both, 99.8)), low * 1.01)
    log = high / low > 20
    plot_w, plot_h = width - left - right, height - top_pad - bottom

    def x_of(v: float) -> float:
        v = min(max(v, low), high)
        share = (
            (math.log(v) - math.log(low)) / (math.log(high) - math.log(low))
            if log
            else (v - low) / (high - low)
        )
        return left + share * plot_w

    def y_of(f: float) -> float:
        return top_pad + (1 - f) * plot_h

    parts = [
        f'<rect x="{left}" y="{top_pad}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>'
    ]
    for f in (0, 0.25, 0.5, 0.75, 1):
        y = y_of(f)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" font-size="10">{f:g}</text>'
        )
    for f in (0.95, 0.99):  # the tail quantiles' levels, labelled on the right
        y = y_of(f)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0" '
            f'stroke-dasharray="3 3"/><text x="{left + plot_w + 2}" y="{y + 3:.1f}" '
            f'font-size="9" fill="#777">{f:g}</text>'
        )
    for tick in _nice_ticks(low, high, log):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top_pad}" y2="{top_pad + plot_h}" '
            f'stroke="#eeeeee"/><text x="{x:.1f}" y="{top_pad + plot_h + 13}" '
            f'text-anchor="middle" font-size="10">{tick:,.4g}</text>'
        )

    def curve(values: np.ndarray, colour: str) -> None:
        if values.size == 0:
            return
        ys = np.arange(1, values.size + 1) / values.size
        points = " ".join(
            f"{x_of(float(v)):.1f},{y_of(float(y)):.1f}" for v, y in zip(values, ys, strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        for _name, p in QUANTILES:
            at = float(np.quantile(values, p))
            parts.append(
                f'<circle cx="{x_of(at):.1f}" cy="{y_of(p):.1f}" r="3.5" fill="{colour}">'
                f"<title>p{p * 100:g} {at:,.1f} ms</title></circle>"
            )

    curve(baseline, COLOURS["baseline"])
    curve(current, COLOURS["current"])
    scale = "log scale" if log else "linear"
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" font-size="11">'
        f"response time (ms, {scale}); dots: p50, p95, p99</text>"
        f'<text x="12" y="{top_pad + plot_h / 2}" font-size="11" '
        f'transform="rotate(-90 12 {top_pad + plot_h / 2})" text-anchor="middle">'
        "fraction ≤ x</text>"
        f'<text x="{left}" y="{top_pad - 10}" font-size="12" font-weight="bold">'
        f"{escape(title)}</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )

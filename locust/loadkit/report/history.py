"""The history as people read it: per endpoint its change points, outliers and noise as
text, and a small trend per endpoint (p50, p95 and p99 of the recent comparable runs with
their intervals, the change points marked, the current run highlighted) as inline SVG."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from html import escape
from pathlib import Path
from typing import Any

from loadkit.core.defaults import ALPHA
from loadkit.stats.history import History
from loadkit.stats.level_noise import level_noise
from loadkit.stats.verdict import QUANTILES

TREND_RUNS = 20  # the newest runs a trend shows
COLOURS = {"p50": "#3f88c5", "p95": "#e4572e", "p99": "#7b2d8b"}


def _pct(value: float) -> str:
    return f"{value:+.1%}"


def noise_line(figures: dict[str, dict[str, float]]) -> str:
    """'run-to-run noise of this endpoint: ±x % over N runs (p50), …' from measured figures."""
    if not figures:
        return ""
    noise = ", ".join(
        f"±{f['noise']:.1%} over {int(f['runs'])} runs ({q})" for q, f in figures.items()
    )
    detect = ", ".join(f"{f['detectable']:.1%} ({q})" for q, f in figures.items())
    return (
        f"run-to-run noise of this endpoint: {noise}; smallest change the next run could "
        f"detect: {detect}"
    )


def noise_figures(history: History, alpha: float = ALPHA) -> dict[tuple[str, str], Any]:
    """Per endpoint, the noise of its newest level and what the next run could detect
    against it (``--baseline history``)."""
    found = {}
    for e in history.endpoints:
        runs = {
            label: by_endpoint[(e.method, e.name)]
            for label, by_endpoint in history.estimates.items()
            if (e.method, e.name) in by_endpoint
        }
        found[(e.method, e.name)] = {
            # A next run as wide as the level's runs: no excess of its own.
            quantile: level.figures(replace(level.baseline, se_log=math.sqrt(level.own)), alpha)
            for quantile, level in level_noise(runs, e.level).items()
        }
    return found


def text(history: History) -> str:
    runs = history.runs
    lines = [
        f"loadwatch: history of run {runs[-1].label!r}: {len(runs)} comparable run(s), "
        f"{runs[0].label!r} to {runs[-1].label!r}"
    ]
    figures = noise_figures(history)
    for e in history.endpoints:
        lines.append(f"  {e.label}")
        for cp in e.change_points:
            lines.append(
                f"    {cp.quantile} change point at run {cp.run!r}: {_pct(cp.change)} "
                f"(interval {_pct(cp.low)} to {_pct(cp.high)})"
            )
        for o in e.outliers:
            lines.append(f"    {o.quantile} outlier: run {o.run!r}, {_pct(o.change)} off its level")
        if not e.change_points and not e.outliers:
            lines.append("    no change point, no outlier")
        line = noise_line(figures.get((e.method, e.name), {}))
        lines.append(
            f"    {line}" if line else "    run-to-run noise: fewer than 3 runs at this level"
        )
    return "\n".join(lines)


def to_dict(history: History) -> dict[str, Any]:
    figures = noise_figures(history)
    found = history.to_dict()
    for entry, e in zip(found["endpoints"], history.endpoints, strict=True):
        entry["noise"] = figures.get((e.method, e.name), {})
    found["current"] = history.runs[-1].label
    return found


def write_json(history: History, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_dict(history), indent=2), encoding="utf-8")


def trend_svg(history: History, index: int) -> str:
    """Endpoint ``index``'s p50, p95 and p99 over the newest TREND_RUNS runs."""
    e = history.endpoints[index]
    labels = [run.label for run in history.runs][-TREND_RUNS:]
    current = history.runs[-1].label
    points = {q: [p for p in e.series.get(q, []) if p.run in labels] for q, _ in QUANTILES}
    values = [v for ps in points.values() for p in ps for v in (p.low, p.high)]
    if not values:
        return ""
    width, height, left, right, top, bottom = 360, 170, 46, 10, 22, 30
    low, high = max(min(values), 1e-3), max(max(values), 1e-3 * 1.01)
    if high / low < 1.2:
        low, high = low / 1.1, high * 1.1
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(labels) - 1, 1)

    def x_of(label: str) -> float:
        return left + labels.index(label) * step if len(labels) > 1 else left + plot_w / 2

    def y_of(v: float) -> float:
        share = (math.log(max(v, low)) - math.log(low)) / (math.log(high) - math.log(low))
        return top + (1 - share) * plot_h

    parts = [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999"/>',
        f'<rect x="{x_of(current) - step / 2:.1f}" y="{top}" width="{max(step, 8):.1f}" '
        f'height="{plot_h}" fill="#fff3c4"><title>current run {escape(current)}</title></rect>',
    ]
    for v in (low, math.sqrt(low * high), high):
        parts.append(
            f'<text x="{left - 4}" y="{y_of(v) + 3:.1f}" text-anchor="end" '
            f'font-size="9">{v:,.3g}</text>'
        )
    for cp in e.change_points:
        if cp.run in labels:
            x = x_of(cp.run) - step / 2
            parts.append(
                f'<line class="change-point" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
                f'y2="{top + plot_h}" stroke="#c0392b" stroke-dasharray="4 2">'
                f"<title>{cp.quantile} change point at {escape(cp.run)}: {_pct(cp.change)}"
                "</title></line>"
            )
    outliers = {(o.run, o.quantile) for o in e.outliers}
    for q, ps in points.items():
        colour = COLOURS[q]
        if len(ps) > 1:
            line = " ".join(f"{x_of(p.run):.1f},{y_of(p.value):.1f}" for p in ps)
            parts.append(f'<polyline fill="none" stroke="{colour}" points="{line}"/>')
        for p in ps:
            x = x_of(p.run)
            ring = ' stroke="#000" stroke-width="1.5"' if (p.run, q) in outliers else ""
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_of(p.low):.1f}" y2="{y_of(p.high):.1f}" '
                f'stroke="{colour}" stroke-opacity="0.5"/><circle cx="{x:.1f}" '
                f'cy="{y_of(p.value):.1f}" r="{3.5 if p.run == current else 2.5}" '
                f'fill="{colour}"{ring}><title>{escape(p.run)} {q} {p.value:,.1f} ms</title>'
                "</circle>"
            )
    parts.append(
        f'<text x="{left}" y="{top - 8}" font-size="11" font-weight="bold">'
        f"{escape(e.label)}</text>"
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" font-size="9">'
        f"last {len(labels)} comparable runs (ms, log scale): "
        + " ".join(f'<tspan fill="{c}">{q}</tspan>' for q, c in COLOURS.items())
        + "</text>"
    )
    return (
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="trend of {escape(e.label)}">'
        f"{''.join(parts)}</svg>"
    )


def html(history: History | None) -> str:
    """The trends of every endpoint, with their change points listed."""
    if history is None or len(history.runs) < 2:
        return ""
    plots = "".join(trend_svg(history, i) for i in range(len(history.endpoints)))
    found = [
        f"<li>{escape(e.label)} {cp.quantile}: change point at run <code>{escape(cp.run)}</code> "
        f"{_pct(cp.change)} (interval {_pct(cp.low)} to {_pct(cp.high)})</li>"
        for e in history.endpoints
        for cp in e.change_points
    ]
    listed = (
        f'<ul class="change-points">{"".join(found)}</ul>'
        if found
        else ("<p>No change point in the comparable runs.</p>")
    )
    return (
        f'<div class="history"><b>History of {len(history.runs)} comparable runs</b> '
        f"(dashed: a change point; ringed: an outlier; shaded: this run){listed}"
        f'<div class="plots">{plots}</div></div>'
    )

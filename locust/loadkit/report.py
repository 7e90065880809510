"""The comparison as people read it: an HTML section (a table and ECDF plots, as inline SVG),
a short text table for the terminal, and JSON for machines."""

import json
from html import escape
from pathlib import Path

import numpy as np

from loadkit.compare import IMPROVEMENT, REGRESSION, Comparison, EndpointComparison

SECTION_ID = "loadwatch-baseline"
COLOURS = {"current": "#e4572e", "baseline": "#3f88c5"}
VERDICT_COLOURS = {REGRESSION: "#c0392b", IMPROVEMENT: "#1e8449"}
BLANK = "-"


def _ms(value: float | None) -> str:
    return BLANK if value is None else f"{value:,.1f}"


def _change(value: float | None) -> str:
    return BLANK if value is None else f"{value:+.1%}"


def text_table(comparison: Comparison) -> str:
    baseline = comparison.baseline.label if comparison.baseline else "none"
    lines = [f"loadwatch: run {comparison.current.label!r} against baseline {baseline!r}"]
    lines += [f"  warning: {w}" for w in comparison.warnings]
    header = (
        f"  {'endpoint':<36} {'n':>8} {'p50 ms':>9} {'Δp50':>8} {'Δp95':>8} {'D':>6} {'p':>9}"
        "  verdict"
    )
    if comparison.endpoints:
        lines.append(header)
    for e in comparison.endpoints:
        d = BLANK if e.d is None else f"{e.d:.3f}"
        p = BLANK if e.p_value is None else f"{e.p_value:.2g}"
        lines.append(
            f"  {(e.method + ' ' + e.name)[:36]:<36} {e.current_count:>8} "
            f"{_ms(e.current['p50']):>9} {_change(e.change['p50']):>8} "
            f"{_change(e.change['p95']):>8} {d:>6} {p:>9}  {e.verdict}"
        )
    return "\n".join(lines)


def write_json(comparison: Comparison, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(comparison.to_dict(), indent=2, default=str), encoding="utf-8")


def _ecdf_svg(current: np.ndarray, baseline: np.ndarray, title: str) -> str:
    width, height, pad = 420, 220, 40
    both = np.concatenate([current, baseline])
    if both.size == 0:
        return ""
    top = float(np.percentile(both, 99.5)) or 1.0

    def line(values: np.ndarray, colour: str) -> str:
        if values.size == 0:
            return ""
        ys = (np.arange(1, values.size + 1)) / values.size
        points = " ".join(
            f"{pad + min(v / top, 1.0) * (width - 2 * pad):.1f},"
            f"{height - pad - y * (height - 2 * pad):.1f}"
            for v, y in zip(values, ys, strict=True)
        )
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'

    ticks = "".join(
        f'<text x="{pad + f * (width - 2 * pad):.0f}" y="{height - pad + 15}" '
        f'text-anchor="middle" font-size="10">{top * f:,.0f}</text>'
        for f in (0, 0.25, 0.5, 0.75, 1)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">'
        f'<rect x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{height - 2 * pad}" '
        f'fill="none" stroke="#bbb"/>'
        f"{line(baseline, COLOURS['baseline'])}{line(current, COLOURS['current'])}{ticks}"
        f'<text x="{width / 2}" y="{height - 5}" text-anchor="middle" font-size="11">'
        f"response time (ms)</text>"
        f'<text x="12" y="{height / 2}" font-size="11" transform="rotate(-90 12 {height / 2})" '
        f'text-anchor="middle">fraction ≤ x</text>'
        f'<text x="{pad}" y="{pad - 8}" font-size="12" font-weight="bold">{escape(title)}</text>'
        f"</svg>"
    )


def _row(e: EndpointComparison) -> str:
    colour = VERDICT_COLOURS.get(e.verdict, "inherit")
    cells = [
        escape(e.method),
        escape(e.name),
        f"{e.current_count:,}",
        f"{e.baseline_count:,}",
        *(
            f"{_ms(e.current[k])} <small>({_ms(e.baseline[k])})</small>"
            for k in ("p50", "p95", "p99")
        ),
        *(_change(e.change[k]) for k in ("p50", "p95", "p99")),
        BLANK if e.d is None else f"{e.d:.3f}",
        BLANK if e.p_value is None else f"{e.p_value:.3g}",
        f'<b style="color:{colour}">{escape(e.verdict)}</b>',
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def html_section(comparison: Comparison) -> str:
    base = comparison.baseline
    heading = (
        f"Baseline comparison: run <code>{escape(comparison.current.label)}</code> against "
        + (f"<code>{escape(base.label)}</code>" if base else "no baseline")
    )
    warnings = "".join(f'<p class="warning">⚠ {escape(w)}</p>' for w in comparison.warnings)
    headers = [
        "Method",
        "Name",
        "n (current)",
        "n (baseline)",
        "p50 ms (baseline)",
        "p95 ms (baseline)",
        "p99 ms (baseline)",
        "Δp50",
        "Δp95",
        "Δp99",
        "KS D",
        "p-value",
        "Verdict",
    ]
    table = ""
    if comparison.endpoints:
        table = (
            '<table class="loadwatch-table"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in headers)
            + "</tr></thead><tbody>"
            + "".join(_row(e) for e in comparison.endpoints)
            + "</tbody></table>"
        )
    plots = "".join(
        _ecdf_svg(now, before, f"{method} {name}")
        for (method, name), (now, before) in comparison.curves.items()
    )
    legend = (
        f'<p><span style="color:{COLOURS["current"]}">━ current</span> &nbsp; '
        f'<span style="color:{COLOURS["baseline"]}">━ baseline</span> &nbsp; '
        f"Significant when p &lt; {comparison.alpha:g} and D ≥ {comparison.min_effect:g}; "
        "ramp-up and failed requests excluded.</p>"
    )
    style = (
        "<style>#loadwatch-baseline{font-family:sans-serif;margin:24px;padding:16px;"
        "border:1px solid #ccc;border-radius:6px;background:#fff;color:#222}"
        "#loadwatch-baseline table{border-collapse:collapse;font-size:13px}"
        "#loadwatch-baseline td,#loadwatch-baseline th{border:1px solid #ddd;padding:4px 8px;"
        "text-align:right}#loadwatch-baseline td:nth-child(-n+2){text-align:left}"
        "#loadwatch-baseline .warning{color:#b9770e}"
        "#loadwatch-baseline .plots{display:flex;flex-wrap:wrap;gap:12px}</style>"
    )
    return (
        f'{style}<section id="{SECTION_ID}"><h2>{heading}</h2>{warnings}{table}{legend}'
        f'<div class="plots">{plots}</div></section>'
    )


def add_to_report(html_path: Path, comparison: Comparison) -> None:
    """Put the section into Locust's HTML report (before </body>), once."""
    page = html_path.read_text(encoding="utf-8")
    section = html_section(comparison)
    if SECTION_ID in page:
        return
    at = page.rfind("</body>")
    page = page[:at] + section + page[at:] if at >= 0 else page + section
    html_path.write_text(page, encoding="utf-8")


def standalone_html(comparison: Comparison) -> str:
    title = f"loadwatch: {escape(comparison.current.label)}"
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{html_section(comparison)}</body></html>"
    )

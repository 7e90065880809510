"""The comparison as people read it: an HTML section (a table and ECDF plots, as inline SVG),
a short text table for the terminal, and JSON for machines."""

import json
import re
from html import escape
from pathlib import Path

from loadkit.core.defaults import UNMEASURED_NOTE
from loadkit.core.records import RunInfo, VerdictRecord
from loadkit.report import duet_plot, ecdf_plot
from loadkit.report import history as history_report
from loadkit.stats.comparison import IMPROVEMENT, REGRESSION, Comparison, EndpointComparison
from loadkit.stats.verdict import MEASURED_SHARE, QuantileChange

SECTION_ID = "loadwatch-baseline"
VERDICT_COLOURS = {REGRESSION: "#c0392b", IMPROVEMENT: "#1e8449"}
BLANK = "-"


def _ms(value: float | None) -> str:
    return BLANK if value is None else f"{value:,.1f}"


def _thresholds(comparison: Comparison) -> str:
    return ", ".join(f"{k} ±{v:.0%}" for k, v in comparison.min_change.items())


def _interval(q: QuantileChange) -> str:
    if q.change is None or q.low is None or q.high is None:
        return BLANK
    return f"{q.change:+.1%} [{q.low:+.1%}, {q.high:+.1%}]"


def _duet_heading(comparison: Comparison) -> str:
    run = comparison.current
    return (
        f"duet {run.label!r}: candidate {run.candidate_host} against baseline {run.host}, "
        "side by side"
    )


def text_table(comparison: Comparison) -> str:
    single = comparison.baseline is not None and len(comparison.baseline_runs) <= 1
    against = f"baseline {comparison.baseline_text}" if single else comparison.baseline_text
    heading = f"run {comparison.current.label!r} against {against}"
    lines = [
        f"loadwatch: {_duet_heading(comparison) if comparison.duet else heading}",
        f"  verdict: {comparison.summary()}",
    ]
    lines += [f"  warning: {w}" for w in comparison.warnings]
    if comparison.baseline is not None and not comparison.noise_measured:
        lines.append(f"  note: {UNMEASURED_NOTE}")
    lines += [f"  starts a slower level: {line}" for line in comparison.new_slower_levels()]
    header = (
        f"  {'endpoint':<34} {'n':>7} {'p50 ms':>8} {'Δp50 [interval]':>26} "
        f"{'Δp95 [interval]':>26} {'Δp99 [interval]':>26} {'KS D':>6}  verdict"
    )
    if comparison.endpoints:
        lines.append(header)
    for e in comparison.endpoints:
        d = BLANK if e.d is None else f"{e.d:.3f}"
        cells = " ".join(f"{_interval(q):>26}" for q in e.quantiles)
        lines.append(
            f"  {e.label[:34]:<34} {e.current_count:>7} {_ms(e.current['p50']):>8} {cells} "
            f"{d:>6}  {e.verdict}"
        )
        if e.noise:
            lines.append(f"      {history_report.noise_line(e.noise)}")
    thresholds = _thresholds(comparison)
    lines.append(
        f"  intervals at Holm's level for a family-wise error of {comparison.alpha:g}; "
        f"thresholds {thresholds} (where history measures the run-to-run noise, it is in "
        f"the interval in their place, tested at {MEASURED_SHARE:.0%} of Holm's level)"
    )
    return "\n".join(lines)


def json_text(comparison: Comparison) -> str:
    return json.dumps(comparison.to_dict(), indent=2, default=str)


def write_json(comparison: Comparison, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(comparison), encoding="utf-8")


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
        *(
            f'<span style="color:{VERDICT_COLOURS.get(q.outcome, "inherit")}">'
            f"{escape(_interval(q))}</span>"
            for q in e.quantiles
        ),
        BLANK if e.d is None else f"{e.d:.3f}",
        BLANK if e.p_value is None else f"{e.p_value:.3g}",
        f'<b style="color:{colour}">{escape(e.verdict)}</b>'
        + (f"<br><small>{escape(e.reason)}</small>" if e.reason else "")
        + (f"<br><small>{escape(history_report.noise_line(e.noise))}</small>" if e.noise else ""),
    ]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _run_facts(run: RunInfo) -> list[str]:
    ramp = (
        f"{run.spawned_at - run.started_at:.1f} s"
        if run.spawned_at is not None
        else "never finished spawning: all excluded"
    )
    return [
        escape(run.label),
        run.started_text,
        BLANK if run.users is None else str(run.users),
        BLANK if run.pacing is None else f"{run.pacing:g} s",
        BLANK if run.req_per_s is None else f"{run.req_per_s:,.1f}",
        BLANK if run.peak_cpu is None else f"{run.peak_cpu:.0f} %",
        BLANK
        if run.host_cpu_p50 is None or run.host_cpu_p95 is None
        else f"{run.host_cpu_p50:.0f} % / {run.host_cpu_p95:.0f} %",
        ramp,
    ]


def _comparability(comparison: Comparison) -> str:
    runs = [("current", comparison.current)]
    if comparison.baseline:
        runs.append(("baseline", comparison.baseline))
    headers = [
        "",
        "label",
        "started",
        "users",
        "pacing",
        "req/s",
        "load-generator CPU peak",
        "machine under test CPU p50 / p95",
        "ramp-up excluded",
    ]
    rows = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in [role, *_run_facts(run)]) + "</tr>"
        for role, run in runs
    )
    return (
        '<div class="comparability"><b>Comparability</b><table><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in headers)
        + f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def summary_banner(comparison: Comparison) -> str:
    """One line for the top of Locust's report, linking to the section."""
    colour = (
        VERDICT_COLOURS[REGRESSION]
        if comparison.regressions
        else VERDICT_COLOURS[IMPROVEMENT]
        if comparison.improvements
        else "#555"
    )
    return (
        f'<div id="{SECTION_ID}-summary" style="font-family:sans-serif;padding:10px 16px;'
        f'border-left:6px solid {colour};background:#fafafa;color:#222;margin:8px">'
        f"<b>loadwatch baseline verdict:</b> {escape(comparison.summary())} "
        f'<a href="#{SECTION_ID}">details</a></div>'
    )


def verdict_record(comparison: Comparison) -> VerdictRecord:
    """The comparison as a store keeps it with the run: its summary, JSON, banner and
    section, rendered once."""
    return VerdictRecord(
        comparison.current.id,
        comparison.baseline.id if comparison.baseline else None,
        comparison.summary(),
        json_text(comparison),
        summary_banner(comparison),
        html_section(comparison),
    )


def html_section(comparison: Comparison) -> str:
    base = comparison.baseline
    heading = (
        f"Baseline comparison: run <code>{escape(comparison.current.label)}</code> against "
        + (
            f"<code>{escape(base.label)}</code>"
            if base and len(comparison.baseline_runs) <= 1
            else escape(comparison.baseline_text)
        )
    )
    if comparison.duet:
        heading = f"Duet: {escape(_duet_heading(comparison).split(': ', 1)[1])}"
    verdict_line = f'<p class="verdict"><b>Verdict:</b> {escape(comparison.summary())}</p>'
    notes = list(comparison.warnings)
    if base is not None and not comparison.noise_measured:
        notes.append(UNMEASURED_NOTE)
    warnings = "".join(f'<p class="warning">⚠ {escape(w)}</p>' for w in notes)
    warnings += "".join(
        f'<p class="warning">⚠ this run starts a slower level: {escape(line)}</p>'
        for line in comparison.new_slower_levels()
    )
    headers = [
        "Method",
        "Name",
        "n (current)",
        "n (baseline)",
        "p50 ms (baseline)",
        "p95 ms (baseline)",
        "p99 ms (baseline)",
        "Δp50 [interval]",
        "Δp95 [interval]",
        "Δp99 [interval]",
        "KS D",
        "KS p",
        "Verdict",
    ]
    p50 = comparison.min_change.get("p50", 0.0)
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
        ecdf_plot.svg(now, before, f"{method} {name}")
        + duet_plot.svg(comparison.blocks.get((method, name), []), f"{method} {name}", p50)
        for (method, name), (now, before) in comparison.curves.items()
    )
    thresholds = _thresholds(comparison)
    legend = (
        f'<p><span style="color:{ecdf_plot.COLOURS["current"]}">━ current</span> &nbsp; '
        f'<span style="color:{ecdf_plot.COLOURS["baseline"]}">━ baseline</span></p>'
        '<p class="method">A quantile regressed when its whole interval lies beyond its '
        f"threshold ({thresholds}). Intervals respect the autocorrelation of each run and are "
        f"shown at Holm's level for a family-wise error of {comparison.alpha:g} over every "
        "endpoint and quantile. Where earlier comparable runs at this level measure the "
        "run-to-run noise, it widens the interval in place of the threshold, and the "
        f"quantile is tested at {MEASURED_SHARE:.0%} of Holm's level. A quantile "
        "needs 100 timings and 20 beyond it to be assessed. KS D and p describe the shape only: "
        "their p-value assumes independent requests and decides nothing. Ramp-up and failed "
        "requests excluded.</p>"
    )
    style = (
        "<style>#loadwatch-baseline{font-family:sans-serif;margin:24px;padding:16px;"
        "border:1px solid #ccc;border-radius:6px;background:#fff;color:#222}"
        "#loadwatch-baseline table{border-collapse:collapse;font-size:13px;margin:6px 0}"
        "#loadwatch-baseline td,#loadwatch-baseline th{border:1px solid #ddd;padding:4px 8px;"
        "text-align:right}#loadwatch-baseline .loadwatch-table td:nth-child(-n+2)"
        "{text-align:left}#loadwatch-baseline .warning{color:#b9770e}"
        "#loadwatch-baseline .verdict{font-size:15px}"
        "#loadwatch-baseline .method{font-size:12px;color:#555}"
        "#loadwatch-baseline .plots{display:flex;flex-wrap:wrap;gap:12px}</style>"
    )
    return (
        f'{style}<section id="{SECTION_ID}"><h2>{heading}</h2>{verdict_line}{warnings}'
        f"{_comparability(comparison)}{table}{legend}"
        f'<div class="plots">{plots}</div>{history_report.html(comparison.history)}</section>'
    )


def add_to_report(html_path: Path, comparison: Comparison) -> None:
    """Put the verdict into Locust's HTML report file, once."""
    page = html_path.read_text(encoding="utf-8")
    html_path.write_text(
        with_section(page, summary_banner(comparison), html_section(comparison)),
        encoding="utf-8",
    )


def with_section(page: str, banner: str, section: str) -> str:
    """Locust's report ``page`` with the verdict's line at its top and the section at its
    end (before </body>); unchanged when it has them already."""
    if SECTION_ID in page:
        return page
    at = page.rfind("</body>")
    page = page[:at] + section + page[at:] if at >= 0 else page + section
    # Locust's page carries "<body" inside its scripts too: the banner goes just before
    # the React root, or after the <body> that follows the real </head>.
    at = page.find('<div id="root"')
    if at < 0:
        body = re.compile(r"<body[^>]*>").search(page, max(page.rfind("</head>"), 0))
        at = body.end() if body else 0
    return page[:at] + banner + page[at:]


def standalone_html(comparison: Comparison) -> str:
    title = f"loadwatch: {escape(comparison.current.label)}"
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{summary_banner(comparison)}{html_section(comparison)}</body></html>"
    )

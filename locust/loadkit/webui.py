"""loadkit in the master's web UI: the Baseline and Pacing tabs, the routes behind them, and
the verdict in the report that "Download data" gives.

Locust's UI is a React page whose extra tabs can only show tables from the stats it polls,
and it stops polling when a test stops: a table can neither hold a form nor show the verdict
that comes after STOP. So the tabs are Locust's, and their content is loadkit's panel, put
in by a small script (``/loadwatch/ui.js``, added to the page) from server-rendered HTML:
the baseline for the next test, the last test's comparison with its ECDFs and the recorded
runs; the pacing with an input and its changes. A shorter panel sits under the start form,
where no tab is shown yet. It acts through the JSON routes below, which scripts can call too.

Baseline and pacing are not fields of Locust's start and edit forms: those forms resend the
value they showed when the page loaded, which would undo a change made since.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit import gate, options, pacing, state
from loadkit.defaults import PREVIOUS
from loadkit.results import ResultsStore, RunInfo, StoredComparison

if TYPE_CHECKING:
    from flask import Response
    from locust.env import Environment

    from loadkit.state import Kit

SCRIPT = Path(__file__).with_name("webui.js")
TABS = [{"title": "Baseline", "key": "baseline"}, {"title": "Pacing", "key": "pacing"}]
BLANK = "-"


def _runs_with_verdicts(store: ResultsStore) -> list[tuple[RunInfo, str | None]]:
    verdicts = store.verdicts()
    return [(run, verdicts.get(run.id)) for run in reversed(store.runs())]


def _pacing_text(run: RunInfo) -> str:
    text = BLANK if run.pacing is None else f"{run.pacing:g} s"
    if run.pacing_changes:
        text += f" ({run.pacing_changes} change{'s' if run.pacing_changes > 1 else ''})"
    return text


def runs_and_verdicts(kit: Kit) -> list[tuple[RunInfo, str | None]]:
    """The recorded runs, newest first, each with its verdict against its own baseline
    ("running" for the open one, None when it was not compared)."""
    rec = kit.recorder
    if rec is None:
        return []
    return [
        (run, "running" if run.id == rec.run_id else verdict)
        for run, verdict in rec.read(_runs_with_verdicts)
    ]


def _runs_table(runs: list[tuple[RunInfo, str | None]]) -> str:
    if not runs:
        return "<p>No run is recorded yet.</p>"
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Run", "Started", "Users", "Pacing", "req/s", "Verdict against its baseline")
    )
    body = ""
    for run, verdict in runs:
        label = escape(run.label)
        if verdict not in (None, "running"):
            label = f'<a href="loadwatch/report/{run.id}" target="_blank">{label}</a>'
        cells = [
            label,
            run.started_text,
            BLANK if run.users is None else str(run.users),
            _pacing_text(run),
            BLANK if run.req_per_s is None else f"{run.req_per_s:,.1f}",
            escape(verdict or "not compared"),
        ]
        body += "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
    return (
        f'<table class="loadwatch-runs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _pacing_changes(kit: Kit) -> str:
    rec = kit.recorder
    since = rec.started_at if rec is not None and rec.run_id is not None else time.time()
    changes = kit.pacing.changes_since(since)
    if not changes:
        return "<p>No change of pacing during this test.</p>"
    items = "".join(
        f"<li>{time.strftime('%H:%M:%S', time.localtime(ts))}: {s:g} s</li>" for ts, s in changes
    )
    return f"<p>Changes during this test (recorded with the run):</p><ul>{items}</ul>"


def check_baseline(label: str, kit: Kit | None = None) -> str:
    """``label`` when it can be a baseline: empty (none), 'previous', or a recorded run."""
    label = label.strip()
    if label in ("", PREVIOUS):
        return label
    rec = kit.recorder if kit is not None else None
    if rec is None:
        raise ValueError("recording is off (--results-db ''): there is no baseline to pick")
    if rec.read(ResultsStore.run, label) is None:
        raise ValueError(f"no run labelled {label!r} is recorded")
    return label


# Fields loadkit takes from the web (its routes, and a scripted POST /swarm), checked as
# the command line checks them.
CHECKS: dict[str, Callable[[str], Any]] = {
    "seconds": options.positive_seconds,
    "pacing": options.positive_seconds,
    "alpha": options.alpha,
    "min_change": options.min_change,
}
SWARM_FIELDS = ("pacing", "alpha", "min_change", "baseline")


def checked(field: str, value: Any, kit: Kit | None = None) -> Any:
    """``value`` as ``field``'s check reads it; a ValueError naming the field otherwise."""
    try:
        if field == "baseline":
            return check_baseline(str(value), kit)
        return CHECKS[field](str(value))
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise ValueError(f"{field}: {error}") from None


def _last_comparison(kit: Kit) -> StoredComparison | None:
    """The comparison of the last test this process ran, if it was compared."""
    rec, last = kit.recorder, kit.last
    if rec is None or last is None:
        return None
    found: StoredComparison | None = rec.read(ResultsStore.comparison, last.run_id)
    return found


def _baseline_form(environment: Environment, heading: str, labels: list[str]) -> str:
    current = _current_baseline(environment)
    choices = [("", "none: record only"), (PREVIOUS, "previous comparable run")]
    choices += [(label, label) for label in labels]
    items = "".join(
        f'<option value="{escape(value)}"{" selected" if value == current else ""}>'
        f"{escape(text)}</option>"
        for value, text in choices
    )
    return (
        f'<form data-action="loadwatch/baseline"><label>{heading} '
        f'<select name="baseline">{items}</select></label> <button>Set</button></form>'
    )


def _pacing_form(kit: Kit) -> str:
    return (
        '<form data-action="pacing"><label>Pacing: <input name="seconds" type="number" '
        f'step="any" min="0" value="{kit.pacing.seconds:g}" required> s between the starts '
        "of a user's iterations</label> <button>Set</button></form>"
    )


def _current_baseline(environment: Environment) -> str:
    opts = environment.parsed_options
    return str(getattr(opts, "baseline", "") or "")


STYLE = (
    "<style>#loadwatch-panel table.loadwatch-runs{border-collapse:collapse;margin:8px 0}"
    "#loadwatch-panel .loadwatch-runs td,#loadwatch-panel .loadwatch-runs th{border:1px solid "
    "#ddd;padding:4px 8px;text-align:left}#loadwatch-panel h3{margin:4px 0 8px}</style>"
)


def panel(environment: Environment, name: str) -> str:
    """The HTML the script puts in a tab (or under the start form)."""
    kit = state.kit(environment)
    rec = kit.recorder
    parts = [STYLE, '<div class="loadwatch-status" role="status"></div>']
    if name == "pacing":
        return "".join([*parts, "<h3>Pacing</h3>", _pacing_form(kit), _pacing_changes(kit)])
    runs = runs_and_verdicts(kit)
    parts.append("<h3>loadwatch</h3>")
    if rec is None:
        parts.append("<p>Recording is off (<code>--results-db ''</code>): no baseline.</p>")
    else:
        labels = [run.label for run, _ in runs]
        parts.append(_baseline_form(environment, "Baseline for the next test:", labels))
    if name == "start":
        return "".join([*parts, _pacing_form(kit)])
    last = _last_comparison(kit)
    if rec is not None and rec.closing is not None:
        parts.append(
            f"<p>Test <code>{escape(rec.label or '')}</code> is ending: its verdict "
            "follows in a moment.</p>"
        )
    elif last is not None:
        parts.append(last.banner + last.html)
    elif kit.last is not None:
        parts.append(
            f"<p>The last test, <code>{escape(kit.last.label)}</code>, was not compared: "
            "no baseline was picked.</p>"
        )
    else:
        parts.append(
            "<p>No test has ended yet: pick a baseline, run a test and stop it; its verdict "
            "shows here.</p>"
        )
    parts += ["<h3>Recorded runs</h3>", _runs_table(runs)]
    return "".join(parts)


def _fields(request: Any) -> Mapping[str, Any]:
    """A POST's fields: its JSON object, else its form (a JSON list or number has none)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form


def on_init(environment: Environment, **_kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    from flask import Blueprint, Response, abort, jsonify, make_response, request

    base_path = getattr(environment.parsed_options, "web_base_path", "") or ""
    routes = Blueprint("loadwatch", __name__, url_prefix=base_path or None)
    guard = web_ui.auth_required_if_enabled
    kit = state.kit(environment)

    def posted(field: str) -> Any:
        """A POSTed field as its check reads it; a 400 naming the field otherwise."""
        try:
            return checked(field, _fields(request).get(field, ""), kit)
        except ValueError as error:
            abort(make_response(jsonify(detail=str(error)), 400))

    @routes.route("/pacing", methods=["GET", "POST"])
    @guard
    def pacing_route() -> Response:
        if request.method == "POST":
            pacing.set_everywhere(environment, kit.pacing, posted("seconds"))
        return jsonify(seconds=kit.pacing.seconds, changes=len(kit.pacing.history))

    @routes.route("/loadwatch/baseline", methods=["GET", "POST"])
    @guard
    def baseline_route() -> Response:
        if request.method == "POST":
            label = posted("baseline")
            if environment.parsed_options is not None:
                environment.parsed_options.baseline = label
        return jsonify(baseline=_current_baseline(environment))

    @routes.route("/loadwatch/runs")
    @guard
    def runs_route() -> Response:
        return jsonify([{**asdict(run), "verdict": v} for run, v in runs_and_verdicts(kit)])

    @routes.route("/loadwatch/report/<int:run_id>")
    @guard
    def report_route(run_id: int) -> Response | tuple[Response, int]:
        """A recorded run's comparison, as it was when the run ended."""
        rec = kit.recorder
        found = None if rec is None else rec.read(ResultsStore.comparison, run_id)
        if found is None:
            return jsonify(detail=f"run {run_id} has no comparison"), 404
        page = f'<!doctype html><meta charset="utf-8"><body>{found.banner}{found.html}</body>'
        return Response(page, mimetype="text/html")

    @routes.route("/loadwatch/comparison")
    @guard
    def comparison_route() -> Response | tuple[Response, int]:
        """The last test's comparison as JSON (the same as its report's)."""
        last = _last_comparison(kit)
        if last is None:
            return jsonify(detail="no test has been compared yet"), 404
        return Response(last.json, mimetype="application/json")

    @routes.route("/loadwatch/panel/<name>")
    @guard
    def panel_route(name: str) -> Response | tuple[Response, int]:
        if name not in ("start", "baseline", "pacing"):
            return jsonify(detail=f"no panel {name!r}"), 404
        return Response(panel(environment, name), mimetype="text/html")

    @routes.route("/loadwatch/ui.js")
    def script_route() -> Response:
        return Response(SCRIPT.read_text(encoding="utf-8"), mimetype="application/javascript")

    web_ui.app.register_blueprint(routes)
    # RESET (Locust fires it with no arguments) ends the run: what follows is a new one.
    environment.events.reset_stats.add_listener(lambda **_: gate.on_reset_stats(environment))
    web_ui.template_args["extendedTabs"] = TABS
    index_path = f"{base_path}/"
    report_path = f"{base_path}/stats/report"
    swarm_path = f"{base_path}/swarm"

    @web_ui.app.before_request
    def check_swarm() -> tuple[Response, int] | None:
        # Locust would turn a bad value into a 500 (or a pacing of 0): refuse it as the
        # command line does.
        if request.path != swarm_path or request.method != "POST":
            return None
        for field in SWARM_FIELDS:
            if field in request.form:
                try:
                    checked(field, request.form[field], kit)
                except ValueError as error:
                    return jsonify(success=False, message=str(error)), 400
        return None

    @web_ui.app.after_request
    def extend(response: Response) -> Response:
        path = request.path
        if path == swarm_path and request.method == "POST" and response.status_code == 200:
            # A scripted edit of a running test may carry a pacing: apply it as the tab does.
            opts = environment.parsed_options
            if opts is not None and opts.pacing != kit.pacing.seconds:
                pacing.set_everywhere(environment, kit.pacing, opts.pacing)
        elif path == index_path and response.mimetype == "text/html":
            response.direct_passthrough = False
            page = response.get_data(as_text=True)
            tag = '<script src="./loadwatch/ui.js" defer></script>'
            response.set_data(page.replace("</body>", tag + "</body>", 1))
        elif path == report_path and response.mimetype == "text/html":
            last = _last_comparison(kit)
            if last is not None:
                from loadkit.report import with_section

                response.direct_passthrough = False
                page = response.get_data(as_text=True)
                response.set_data(with_section(page, last.banner, last.html))
        return response

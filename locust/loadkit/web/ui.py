"""loadkit in the master's web UI: the Baseline and Pacing tabs, the routes behind them, and
the verdict in the report that "Download data" gives.

Locust's UI is a React page whose extra tabs can only show tables from the stats it polls,
and it stops polling when a test stops: a table can neither hold a form nor show the verdict
that comes after STOP. So the tabs are Locust's, and their content is loadkit's panel, put
in by a small script (``static/webui.js``, which ``templates/locust_ui/index.html`` adds to
Locust's page) from HTML rendered by ``templates/loadkit/panel.html``:
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit.core import options
from loadkit.core.defaults import HISTORY, PREVIOUS
from loadkit.core.records import RunInfo, StoredComparison
from loadkit.runtime import gate, pacing, state
from loadkit.store.base import ResultsStore, labelled

if TYPE_CHECKING:
    from flask import Response
    from locust.env import Environment

    from loadkit.runtime.state import Kit

HERE = Path(__file__).parent
TABS = [{"title": "Baseline", "key": "baseline"}, {"title": "Pacing", "key": "pacing"}]
BLANK = "-"


def _runs_with_verdicts(store: ResultsStore) -> list[tuple[RunInfo, str | None]]:
    verdicts = store.verdicts()
    return [(run, verdicts.get(run.id)) for run in reversed(store.runs())]


def _comparison(store: ResultsStore, run_id: int) -> StoredComparison | None:
    return store.comparison(run_id)


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


def check_baseline(label: str, kit: Kit) -> str:
    """``label`` when it can be a baseline: empty (none), 'previous', 'history', or a
    recorded run (or a duet's candidate side, "LABEL:candidate")."""
    label = label.strip()
    if label in ("", PREVIOUS, HISTORY):
        return label
    rec = kit.recorder
    if rec is None:
        raise ValueError("recording is off (--results-db ''): there is no baseline to pick")
    if rec.read(labelled, label) is None:
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


def checked(field: str, value: Any, kit: Kit) -> Any:
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
    found: StoredComparison | None = rec.read(_comparison, last.run_id)
    return found


def _current_baseline(environment: Environment) -> str:
    opts = environment.parsed_options
    return str(getattr(opts, "baseline", "") or "")


def _pacing_changes(kit: Kit) -> list[tuple[str, float]]:
    """The pacing's changes during the open test (or none), with their local times."""
    rec = kit.recorder
    since = rec.started_at if rec is not None and rec.run_id is not None else time.time()
    return [
        (time.strftime("%H:%M:%S", time.localtime(ts)), seconds)
        for ts, seconds in kit.pacing.changes_since(since)
    ]


def panel_context(environment: Environment, name: str) -> dict[str, Any]:
    """What templates/loadkit/panel.html shows in a tab (or under the start form)."""
    kit = state.kit(environment)
    rec = kit.recorder
    runs = runs_and_verdicts(kit) if name != "pacing" else []
    choices = [
        ("", "none: record only"),
        (PREVIOUS, "previous comparable run"),
        (HISTORY, "history: the comparable runs since the last change point"),
    ]
    return {
        "name": name,
        "pacing": kit.pacing.seconds,
        "changes": _pacing_changes(kit) if name == "pacing" else [],
        "recording": rec is not None,
        "baseline": _current_baseline(environment),
        "choices": choices + [(run.label, run.label) for run, _ in runs],
        "closing": (rec.label or "") if rec is not None and rec.closing is not None else None,
        "comparison": _last_comparison(kit) if name == "baseline" else None,
        "last_label": kit.last.label if kit.last is not None else None,
        "runs": runs,
        "pacing_text": _pacing_text,
        "web_login": bool(getattr(environment.parsed_options, "web_login", False)),
    }


def _fields(request: Any) -> Mapping[str, Any]:
    """A POST's fields: its JSON object, else its form (a JSON list or number has none)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form


def on_init(environment: Environment, **_kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    from flask import Blueprint, Response, abort, jsonify, make_response, render_template, request
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

    base_path = getattr(environment.parsed_options, "web_base_path", "") or ""
    routes = Blueprint(
        "loadwatch",
        __name__,
        url_prefix=base_path or None,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
        static_url_path="/loadwatch/static",
    )
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
        found = None if rec is None else rec.read(_comparison, run_id)
        if found is None:
            return jsonify(detail=f"run {run_id} has no comparison"), 404
        page = render_template("loadkit/report.html", comparison=found)
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
        page = render_template("loadkit/panel.html", **panel_context(environment, name))
        return Response(page, mimetype="text/html")

    web_ui.app.register_blueprint(routes)
    # Locust's page, with loadkit's script: templates/locust_ui/index.html includes Locust's
    # own index.html (as "locust/index.html") and adds the script tag.
    locust_templates = web_ui.app.jinja_loader
    assert locust_templates is not None
    web_ui.app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(HERE / "templates" / "locust_ui"),
            locust_templates,
            PrefixLoader({"locust": locust_templates}),
        ]
    )
    # RESET (Locust fires it with no arguments) ends the run: what follows is a new one.
    environment.events.reset_stats.add_listener(lambda **_: gate.on_reset_stats(environment))
    web_ui.template_args["extendedTabs"] = TABS
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
        elif path == report_path and response.mimetype == "text/html":
            last = _last_comparison(kit)
            if last is not None:
                # Locust renders its report with a Jinja environment of its own, which no
                # loader reaches: the verdict joins the rendered page (report.with_section).
                from loadkit.report.comparison import with_section

                response.direct_passthrough = False
                page = response.get_data(as_text=True)
                response.set_data(with_section(page, last.banner, last.html))
        return response

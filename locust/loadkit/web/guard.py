"""The master's web UI against other sites and against fields it does not offer.

Three guards, for Locust's routes and loadkit's alike:

- Cross-site requests. A POST (or any method but GET and HEAD) whose ``Origin`` (or, with
  none, ``Referer``) names another site is refused with 403: a page the developer happens
  to visit cannot start, stop or rewire a test with a form. Requests without either header
  (scripts, curl) are not a browser's cross-site requests and pass. The CORS headers Locust
  adds to every answer (it reflects any Origin) are dropped from those methods' answers and
  preflights, so no other site's script may call them either.
- ``POST /swarm`` accepts only Locust's own form fields, the options a locustfile shows in
  the web UI (``include_in_web_ui``) and the fields loadkit declares (webui.SWARM_FIELDS).
  Locust copies every other field whose name matches an option into the parsed options,
  which would let the form rewrite notices, file paths and credentials: 400, naming it.
- A test holding credentials of the host under test (secret_options.py) runs at the host
  fixed at start-up only: a ``/swarm`` naming another host is refused with 400, and so is
  a candidate host other than the one fixed at start-up; a candidate that cannot be one
  (``loadkit.runtime.duet.problem``) is refused with 400 too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loadkit.runtime import duet, secret_options, state
from loadkit.web.ui import SWARM_FIELDS

if TYPE_CHECKING:
    from flask import Response
    from locust.env import Environment

# The fields of Locust's own start form (web.py's swarm route reads them by name).
LOCUST_SWARM_FIELDS = frozenset(
    {"user_count", "spawn_rate", "host", "run_time", "user_classes", "shape_class", "profile"}
)
SAFE_METHODS = frozenset({"GET", "HEAD"})
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _netloc(url: str) -> str:
    return urlsplit(url).netloc.lower()


def cross_site(environ: dict[str, Any]) -> str | None:
    """The foreign site a browser says this request comes from, or None (same site, or no
    browser's word on it)."""
    source = str(environ.get("HTTP_ORIGIN") or environ.get("HTTP_REFERER") or "")
    if not source:
        return None
    host = (environ.get("HTTP_HOST") or "").lower()
    if source.strip().lower() == "null" or _netloc(source) != host:
        return source[:200]
    return None


class SameSiteOnly:
    """WSGI middleware around Locust's Flask app: the cross-site guard of the docstring
    above. Around the app rather than inside it, so that it answers before any route and
    sees the headers Flask-CORS adds last."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") in SAFE_METHODS:
            return self.app(environ, start_response)
        foreign = cross_site(environ)
        if foreign is not None:
            body = json.dumps(
                {"success": False, "message": f"cross-site request refused (from {foreign})"}
            ).encode()
            start_response(
                "403 FORBIDDEN",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]

        def without_cors(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, kept, *rest)

        return self.app(environ, without_cors)


def swarm_fields(environment: Environment) -> frozenset[str]:
    """Every field a ``POST /swarm`` may carry."""
    from locust.argument_parser import ui_extra_args_dict

    return LOCUST_SWARM_FIELDS | frozenset(SWARM_FIELDS) | frozenset(ui_extra_args_dict([]))


def on_init(environment: Environment, **_kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or web_ui.app is None:
        return
    from flask import jsonify, request

    app = web_ui.app
    app.wsgi_app = SameSiteOnly(app.wsgi_app)  # type: ignore[method-assign]
    base_path = getattr(environment.parsed_options, "web_base_path", "") or ""
    swarm_path = f"{base_path}/swarm"
    allowed = swarm_fields(environment)

    @app.before_request
    def check_swarm_fields() -> tuple[Response, int] | None:
        if request.path != swarm_path or request.method != "POST":
            return None
        unknown = sorted(set(request.form) - allowed)
        if unknown:
            message = f"field{'s' if len(unknown) > 1 else ''} not accepted: {', '.join(unknown)}"
            return jsonify(success=False, message=message), 400
        host = request.form.get("host")
        if host is not None and not secret_options.host_allowed(environment, host):
            fixed = state.kit(environment).target_host or "(none given)"
            message = (
                f"this test holds credentials for {fixed} only, the host it was started "
                f"with: restart it with --host to test {host[:200]}"
            )
            return jsonify(success=False, message=message), 400
        candidate = request.form.get("candidate_host", "").strip()
        if candidate and not secret_options.host_allowed(environment, candidate):
            message = (
                "this test holds credentials for the hosts it was started with only: "
                f"restart it with --candidate-host to test {candidate[:200]}"
            )
            return jsonify(success=False, message=message), 400
        if candidate:
            found = duet.problem(host or environment.host, candidate)
            if found is not None:
                return jsonify(success=False, message=found), 400
        return None

"""The master's web UI against other sites, other names, unreviewed routes and fields it
does not offer.

Five guards, for Locust's routes and loadkit's alike:

- Names. The master answers only to the names it serves: an IP address, ``localhost``,
  the address of ``--web-host`` and the names of ``--web-host-names``. A request naming
  any other ``Host`` gets 403 before any route, whatever its method: a page of another
  site whose name an attacker has pointed at 127.0.0.1 (DNS rebinding) sends that name,
  and its Origin matches it, so the same-site check alone would let it through.
- Routes. Each request's route must be reviewed (``loadkit.web.reviewed``) for its
  method, and one that needs the web login gets Locust's login answer without it, before
  any check that would name a host or a label: 403 for a route nobody reviewed.
  ``POST /user`` takes only the fields Locust's own form sends, each checked.
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

import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loadkit.runtime import duet, secret_options, state
from loadkit.web import reviewed
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


def _refuse(start_response: StartResponse, message: str) -> Iterable[bytes]:
    body = json.dumps({"success": False, "message": message}).encode()
    start_response(
        "403 FORBIDDEN",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def host_name(header: str) -> str:
    """The name of a ``Host`` header, without its port ("[::1]:8089" is "::1")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def served_names(web_host: str, names: str) -> frozenset[str]:
    """The names the master answers to, besides IP addresses."""
    given = {n.strip().lower().rstrip(".") for n in names.split(",") if n.strip()}
    bound = web_host.strip().lower()
    if bound and bound != "*":
        given.add(bound)
    return frozenset({"localhost", *given})


def foreign_name(environ: dict[str, Any], names: frozenset[str]) -> str | None:
    """The request's ``Host`` name when the master does not serve it (None: it does)."""
    header = str(environ.get("HTTP_HOST") or "")
    if not header:
        return None  # no browser leaves it out
    name = host_name(header).rstrip(".")
    if name in names:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return header[:200]
    return None


class ServedNamesOnly:
    """WSGI middleware: the names guard of the docstring above, before anything else."""

    def __init__(self, app: WSGIApp, names: frozenset[str]) -> None:
        self.app, self.names = app, names

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        foreign = foreign_name(environ, self.names)
        if foreign is not None:
            message = (
                f"this master does not serve the name {foreign}: open it by its address, "
                "or start it with --web-host-names"
            )
            return _refuse(start_response, message)
        return self.app(environ, start_response)


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
            return _refuse(start_response, f"cross-site request refused (from {foreign})")

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

    options = environment.parsed_options
    app = web_ui.app
    names = served_names(
        str(getattr(options, "web_host", "") or ""), getattr(options, "web_host_names", "")
    )
    app.wsgi_app = ServedNamesOnly(SameSiteOnly(app.wsgi_app), names)  # type: ignore[method-assign]
    base_path = getattr(options, "web_base_path", "") or ""
    swarm_path = f"{base_path}/swarm"
    allowed = swarm_fields(environment)
    web_login = bool(getattr(options, "web_login", False))

    def allowed_host(host: str) -> bool:
        return secret_options.host_allowed(environment, host)

    @app.before_request
    def check_route() -> Any:
        rule = request.url_rule
        if rule is None:
            return None  # Flask answers 404 or 405
        route = reviewed.route_of(rule.rule, base_path)
        if route is None or request.method not in route.methods:
            message = f"{request.method} {rule.rule} is no reviewed route of this master"
            return jsonify(success=False, message=message), 403
        if route.who == reviewed.LOGIN and web_login:
            from flask_login import current_user

            if not current_user.is_authenticated:
                return web_ui.login_manager.unauthorized()
        if rule.rule == f"{base_path}/user":
            try:  # as Locust reads it: the raw body, whatever its Content-Type
                body = json.loads(request.get_data(cache=True) or b"null")
            except ValueError:
                body = None
            found = reviewed.user_edit_problem(
                body, environment.available_user_classes or {}, allowed_host
            )
            if found is not None:
                return jsonify(success=False, message=found), 400
        return None

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

"""A login page for the master's web UI, with Locust's own ``--web-login``.

Locust draws the page and guards every route (its own and loadkit's) with Flask-Login; it
leaves checking the password to the locustfile. Here it is one account from the
environment: LOADWATCH_WEB_USERNAME and LOADWATCH_WEB_PASSWORD (or the options of the same
names). The session cookie, named ``loadkit_web_session`` (the service's is
``loadwatch_session``: cookies ignore ports, so one name would make the two log each other
out), is signed with LOADWATCH_WEB_SECRET, or with a key made at start-up (sessions then
end when the master restarts). A session ends ``--web-session-hours`` after its login,
however often it is used: the login time is signed into it and checked on each request,
and Flask does not send the cookie again when a request leaves the session alone, so a tab
that polls does not keep it alive.

Failed logins are counted per client address: after MAX_FAILURES within FAILURE_WINDOW the
address gets 429 without a check until the oldest failure leaves the window. ``POST
/loadwatch/logout`` ends the session: the cookie is signed, not stored, so its session id
is remembered as ended until the cookie would have expired, and a copy of it is refused.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import time
from collections import defaultdict, deque
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from loadkit.core.options import usage_error
from loadkit.runtime.secret_options import secret

if TYPE_CHECKING:
    from flask import Response
    from locust.env import Environment

log = logging.getLogger(__name__)
MAX_FAILURES = 5
COOKIE_NAME = "loadkit_web_session"
FAILURE_WINDOW_SECONDS = 15 * 60.0


class FailedLogins:
    """Recent failed logins per client address, to refuse guessing without a check."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW_SECONDS):
        self.limit, self.window = limit, window
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures[address]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, now: float) -> float:
        """Seconds until ``address`` may try again (0: now)."""
        times = self._recent(address, now)
        if len(times) < self.limit:
            if not times:
                self._failures.pop(address, None)
            return 0.0
        return times[-self.limit] + self.window - now

    def failed(self, address: str, now: float) -> None:
        self._recent(address, now).append(now)


def on_init(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    web_ui = environment.web_ui
    if web_ui is None or options is None or not getattr(options, "web_login", False):
        return
    password = secret(environment, "web_password")
    if not password:
        # Before anything listens.
        usage_error("--web-login needs a password: set LOADWATCH_WEB_PASSWORD (or --web-password)")
    from flask import make_response, redirect, request, session, url_for
    from flask_login import UserMixin, login_user, logout_user

    class WebUser(UserMixin):  # type: ignore[misc]
        def __init__(self, username: str) -> None:
            self.id = username

    username = options.web_username
    app = web_ui.app
    assert app is not None
    app.secret_key = secret(environment, "web_secret") or secrets.token_hex(32)
    app.permanent_session_lifetime = timedelta(hours=options.web_session_hours)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    web_ui.login_manager.user_loader(lambda name: WebUser(name) if name == username else None)
    base_path = getattr(options, "web_base_path", "") or ""
    web_ui.auth_args = {"username_password_callback": f"{base_path}/loadwatch/login"}
    failures = FailedLogins()
    lifetime = app.permanent_session_lifetime.total_seconds()
    ended: dict[str, float] = {}  # session id -> when its cookie expires anyway

    @app.before_request
    def refuse_ended_sessions() -> None:
        since = session.get("since")
        if session.get("sid") in ended or (since is not None and time.time() - since > lifetime):
            session.clear()

    @app.route(f"{base_path}/loadwatch/logout", methods=["POST"])
    def logout() -> Response:
        now = time.monotonic()
        for sid in [sid for sid, until in ended.items() if until <= now]:
            del ended[sid]
        if "sid" in session:
            ended[session["sid"]] = now + lifetime
        logout_user()
        session.clear()
        return redirect(url_for("locust.login"))  # type: ignore[return-value]

    @app.route(f"{base_path}/loadwatch/login", methods=["POST"])
    def login_submit() -> Response:
        address = request.remote_addr or "unknown"
        now = time.monotonic()
        wait = failures.retry_after(address, now)
        if wait > 0:
            seconds = math.ceil(wait)
            answer = make_response(f"Too many failed logins; retry in {seconds} s\n", 429)
            answer.headers["Retry-After"] = str(seconds)
            return answer
        given_user = request.form.get("username", "")
        given_password = request.form.get("password", "")
        # Both compared in constant time, so a wrong username costs as long as a wrong password.
        user_ok = hmac.compare_digest(given_user.encode(), username.encode())
        password_ok = hmac.compare_digest(given_password.encode(), password.encode())
        if user_ok and password_ok:
            session.clear()
            session.permanent = True  # expires after --web-session-hours
            session["sid"] = secrets.token_urlsafe(16)
            session["since"] = time.time()
            login_user(WebUser(username))
            return redirect(url_for("locust.index"))  # type: ignore[return-value]
        failures.failed(address, now)
        log.warning("loadkit: refused a web UI login as %r from %s", given_user[:64], address)
        session["auth_error"] = "Wrong username or password."
        return redirect(url_for("locust.login"))  # type: ignore[return-value]

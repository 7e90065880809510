"""A login page for the master's web UI, with Locust's own ``--web-login``.

Locust draws the page and guards every route (its own and loadkit's) with Flask-Login; it
leaves checking the password to the locustfile. Here it is one account from the
environment: LOADWATCH_WEB_USERNAME and LOADWATCH_WEB_PASSWORD (or the options of the same
names). The session cookie is signed with LOADWATCH_WEB_SECRET, or with a key made at
start-up (sessions then end when the master restarts).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Any

import gevent

if TYPE_CHECKING:
    from flask import Response
    from locust.env import Environment

log = logging.getLogger(__name__)
FAILURE_DELAY_SECONDS = 1.0


def on_init(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
    web_ui = environment.web_ui
    if web_ui is None or options is None or not getattr(options, "web_login", False):
        return
    if not options.web_password:
        # A usage error: one line and a non-zero exit, before anything listens.
        raise SystemExit(
            "loadkit: error: --web-login needs a password: set LOADWATCH_WEB_PASSWORD "
            "(or --web-password)"
        )
    from flask import redirect, request, session, url_for
    from flask_login import UserMixin, login_user

    class WebUser(UserMixin):  # type: ignore[misc]
        def __init__(self, username: str) -> None:
            self.id = username

    username, password = options.web_username, options.web_password
    app = web_ui.app
    assert app is not None
    app.secret_key = options.web_secret or secrets.token_hex(32)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    web_ui.login_manager.user_loader(lambda name: WebUser(name) if name == username else None)
    base_path = getattr(options, "web_base_path", "") or ""
    web_ui.auth_args = {"username_password_callback": f"{base_path}/loadwatch/login"}

    @app.route(f"{base_path}/loadwatch/login", methods=["POST"])
    def login_submit() -> Response:
        given_user = request.form.get("username", "")
        given_password = request.form.get("password", "")
        # Both compared in constant time, so a wrong username costs as long as a wrong password.
        user_ok = hmac.compare_digest(given_user.encode(), username.encode())
        password_ok = hmac.compare_digest(given_password.encode(), password.encode())
        if user_ok and password_ok:
            login_user(WebUser(username))
            return redirect(url_for("locust.index"))  # type: ignore[return-value]
        log.warning("loadkit: refused a web UI login as %r", given_user[:64])
        gevent.sleep(FAILURE_DELAY_SECONDS)  # guessing online stays slow
        session["auth_error"] = "Wrong username or password."
        return redirect(url_for("locust.login"))  # type: ignore[return-value]

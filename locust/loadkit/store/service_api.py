"""The loadwatch service's HTTP API as the results store calls it: one session with the
token, and every failure as one line (``ServiceError``): the service unreachable, a URL
that is not a loadwatch service, a token refused or only allowed to read, a load test
that is not there. The token is read from LOADKIT_RESULTS_TOKEN or from a file, never
from the command line (where every user of the machine would see it)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import requests

TOKEN_VARIABLE = "LOADKIT_RESULTS_TOKEN"  # noqa: S105 - the name of the variable
TIMEOUT_SECONDS = 30.0


class ServiceError(LookupError):
    """The service cannot do what was asked; the message is one line for the user."""


class ServiceDown(ServiceError):
    """The service did not answer (or answered 5xx): worth trying again later."""


class NotThere(ServiceError):
    """404 with the service's own reason: no such load test (or nothing kept of it)."""


def token_from(token_file: str | Path | None) -> str:
    """The token: the file's content when a file is given, else LOADKIT_RESULTS_TOKEN."""
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ServiceError(
                f"cannot read the token file {token_file}: {error.strerror}"
            ) from None
        if not token:
            raise ServiceError(f"the token file {token_file} is empty")
        return token
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise ServiceError(
            f"no token for the loadwatch service: set {TOKEN_VARIABLE} (or give a token file)"
        )
    return token


class ServiceApi:
    def __init__(self, url: str, token: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ServiceError(f"{url} is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self._token = token
        self._local = threading.local()
        self.access = "session"  # how the token may act: "read", "write" (known once checked)

    @property
    def session(self) -> requests.Session:
        """This thread's session: under Locust, gevent's sockets belong to the thread that
        opened them, and the store is called from the main thread and the writer's."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self._token}"
        return session

    def again(self) -> ServiceApi:
        """Another handle with the same token and what is known of it."""
        other = ServiceApi(self.url, self._token)
        other.access = self.access
        return other

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, timeout: float = TIMEOUT_SECONDS, **kwargs: Any) -> Any:
        """The answer's JSON (None for 204); ServiceDown or ServiceError otherwise."""
        try:
            answer = self.session.request(method, f"{self.url}{path}", timeout=timeout, **kwargs)
        except requests.RequestException as error:
            reason = type(error).__name__
            raise ServiceDown(
                f"the loadwatch service at {self.url} does not answer ({reason})"
            ) from None
        if answer.status_code >= 500:
            raise ServiceDown(f"the loadwatch service at {self.url} answered {answer.status_code}")
        if answer.status_code == 204:
            return None
        try:
            body = answer.json()
        except ValueError:
            raise ServiceError(
                f"{self.url} is not a loadwatch service ({method} {path} answered "
                f"{answer.status_code} without JSON)"
            ) from None
        if answer.status_code >= 400:
            detail = body.get("detail") if isinstance(body, dict) else None
            if isinstance(detail, list):
                detail = "; ".join(str(d.get("msg", d)) for d in detail)
            if answer.status_code == 404 and detail in (None, "Not Found"):
                raise ServiceError(f"{self.url} is not a loadwatch service ({path} not found)")
            if answer.status_code == 404:
                raise NotThere(f"{detail} ({self.url})")
            raise ServiceError(f"the loadwatch service refused {method} {path}: {detail}")
        return body

    def check(self, write: bool) -> str:
        """Who the token is, once the URL is known to be a loadwatch service that takes
        the token (to record: a ``write`` token)."""
        try:
            me = self.call("GET", "/auth/me")
        except ServiceError as error:
            if "Not authenticated" in str(error) or "Invalid or expired" in str(error):
                raise ServiceError(
                    f"the loadwatch service at {self.url} refuses the token"
                ) from None
            raise
        if not isinstance(me, dict) or "username" not in me:
            raise ServiceError(f"{self.url} is not a loadwatch service (/auth/me)")
        self.call("GET", "/load-tests", params={"limit": 1})  # a service that keeps load tests
        if write and me.get("access") == "read":
            raise ServiceError(
                f"the token may only read (scope 'read'): recording into {self.url} needs a "
                "'write' token"
            )
        self.access = str(me.get("access") or "write")
        return str(me["username"])

"""FastAPI dependencies, all in one place: the current user (session cookie or API
token), the admin, the settings, the session cache and the summary cache.

Who may call what: every route but /healthz, /readyz, /auth/login and /metrics (unless
METRICS_TOKEN is set) needs a user. A read token may GET only; a write token may also
write its owner's runs, samples and events; the admin routes (users, tokens, the rejected
events) need a password login."""

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie
from pydantic import SecretStr
from starlette.requests import HTTPConnection

from rest_service.domain.errors import Forbidden, NotAuthenticated
from rest_service.domain.runs import SummaryCache
from rest_service.domain.sessions import SessionCache, user_for_api_token, user_for_token
from rest_service.settings import Settings
from rest_service.storage.models import User

COOKIE_NAME = "loadwatch_session"
READ_METHODS = frozenset({"GET", "HEAD"})


def _bearer(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request has one."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _sessions(connection: HTTPConnection) -> SessionCache:
    sessions: SessionCache = connection.app.state.sessions
    return sessions


async def summary_cache(request: Request) -> SummaryCache:
    """FastAPI dependency: the app's cache of runs' summaries."""
    cache: SummaryCache = request.app.state.summaries
    return cache


async def session_cache(request: Request) -> SessionCache:
    """FastAPI dependency: the app's session cache."""
    return _sessions(request)


class SessionCookie(APIKeyCookie):
    """FastAPI dependency: the logged-in user, or 401.

    The session cookie is documented as the API's security scheme, and the user is
    found in one dependency with no parameters of its own: every authenticated request
    resolves it, and each further level (a Cookie parameter, a sub-dependency) costs
    FastAPI measurable time on every request. With ``bearer`` (the default), an
    ``Authorization: Bearer`` API token is taken as well, and goes first.
    """

    def __init__(self, *, bearer: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bearer = bearer

    async def __call__(self, request: HTTPConnection) -> User:
        sessions = _sessions(request)
        token = _bearer(request) if self.bearer else None
        if token is not None:
            found = await user_for_api_token(token, sessions) if token else None
            if found is None:
                raise NotAuthenticated("Invalid or expired API token")
            user, scope = found
            if scope == "read" and request.scope.get("method") not in READ_METHODS:
                raise Forbidden("This API token may only read (scope 'read')")
            request.state.scope = scope
            return user
        cookie = request.cookies.get(COOKIE_NAME)
        session_user = await user_for_token(cookie, sessions) if cookie else None
        if session_user is None:
            raise NotAuthenticated("Not authenticated")
        request.state.scope = "session"
        return session_user


current_user = SessionCookie(
    name=COOKIE_NAME,
    scheme_name="session",
    description="The cookie that POST /auth/login sets, or an API token (POST /auth/tokens) "
    "sent as `Authorization: Bearer <token>`.",
    auto_error=False,
)
# Tokens are made and revoked with a password login only: a leaked token cannot mint more.
session_user = SessionCookie(
    bearer=False,
    name=COOKIE_NAME,
    scheme_name="session",
    description="The cookie that POST /auth/login sets (an API token is not enough).",
    auto_error=False,
)


async def metrics_reader(request: Request) -> None:
    """FastAPI dependency of GET /metrics: open, or with METRICS_TOKEN set, that token as
    a Bearer token (compared in constant time); 401 otherwise."""
    expected: SecretStr | None = request.app.state.settings.metrics_token
    if expected is None:
        return
    given = _bearer(request) or ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise NotAuthenticated("GET /metrics needs the METRICS_TOKEN as a Bearer token")


async def admin_user(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """FastAPI dependency: the admin, logged in with a password; 401 or 403 otherwise."""
    if _bearer(request) is not None:
        raise Forbidden("Admin routes need a password login, not an API token")
    if not user.is_admin:
        raise Forbidden("Admin rights required")
    return user


# Dependencies are async, even with nothing to await: FastAPI runs a plain `def`
# dependency in the thread pool, a thread hop on every request.
async def app_settings(request: Request) -> Settings:
    """FastAPI dependency: the settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


CurrentUser = Annotated[User, Depends(current_user)]
SessionUser = Annotated[User, Depends(session_user)]
AdminUser = Annotated[User, Depends(admin_user)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
SessionCacheDep = Annotated[SessionCache, Depends(session_cache)]
SummaryCacheDep = Annotated[SummaryCache, Depends(summary_cache)]
MetricsReader = Depends(metrics_reader)

"""Passwords, sessions, the login throttle, and the current-user dependency."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated

import bcrypt
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from rest_service.cache import MonitoredTTLCache
from rest_service.errors import Forbidden, NotAuthenticated, Throttled
from rest_service.metrics import LOGINS
from rest_service.models import LoginFailures, Session, User
from rest_service.settings import Settings
from rest_service.shared_counter import SharedCounter

COOKIE_NAME = "session"
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
BAD_CREDENTIALS = "Invalid username or password"


class BadCredentials(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__(BAD_CREDENTIALS)


# bcrypt costs ~0.25 s at 12 rounds: always run it in the thread pool, never on the loop.
async def hash_password(password: str, rounds: int) -> str:
    hashed: bytes = await run_in_threadpool(
        bcrypt.hashpw, password.encode(), bcrypt.gensalt(rounds=rounds)
    )
    return hashed.decode()


def _checkpw(password: str, password_hash: str) -> bool:
    secret = password.encode()
    if len(secret) > 72:  # bcrypt refuses these; no stored password can be that long
        bcrypt.checkpw(b"", password_hash.encode())
        return False
    return bcrypt.checkpw(secret, password_hash.encode())


@lru_cache
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=rounds)).decode()


async def verify_password(password: str, password_hash: str | None, rounds: int) -> bool:
    """Check a password; an unknown user (no hash) still pays one bcrypt check."""
    if password_hash is None:
        dummy = await run_in_threadpool(_dummy_hash, rounds)
        await run_in_threadpool(_checkpw, password, dummy)
        return False
    ok: bool = await run_in_threadpool(_checkpw, password, password_hash)
    return ok


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SessionCache:
    """Users by session-token hash, trusted for a short TTL to spare the database a
    lookup on every request. A logout bumps a counter shared by all workers, and each
    worker clears its cache when it sees the counter move, so a logged-out cookie is
    refused at once everywhere."""

    cache: MonitoredTTLCache[str, tuple[User, datetime]]
    logouts: SharedCounter
    seen_logouts: int = 0

    def get(self, key: str) -> User | None:
        logouts = self.logouts.value
        if logouts != self.seen_logouts:
            self.cache.clear()
            self.seen_logouts = logouts
        entry: tuple[User, datetime] | None = self.cache.get(key)
        if entry is None:
            return None
        user, expires_at = entry
        if expires_at <= _now():
            self.cache.pop(key, None)
            return None
        return user

    def put(self, key: str, user: User, expires_at: datetime) -> None:
        self.cache[key] = (user, expires_at)

    def revoke(self, key: str) -> None:
        self.cache.pop(key, None)
        self.logouts.increment()


async def _check_throttle(username: str, now: datetime) -> None:
    record = await LoginFailures.get(username)
    if record is None:
        return
    recent = [t for t in record.failures if t > now - FAILURE_WINDOW]
    if len(recent) >= MAX_FAILURES:
        seconds = int((recent[-MAX_FAILURES] + FAILURE_WINDOW - now).total_seconds()) + 1
        raise Throttled(
            f"Too many failed logins for this username; retry in {seconds} s",
            retry_after=seconds,
        )


async def _record_failure(username: str, now: datetime) -> None:
    # Keep only the last MAX_FAILURES; the TTL index drops the record once it is stale.
    await LoginFailures.get_motor_collection().update_one(
        {"_id": username},
        {
            "$push": {"failures": {"$each": [now], "$slice": -MAX_FAILURES}},
            "$set": {"expires_at": now + FAILURE_WINDOW},
        },
        upsert=True,
    )


async def authenticate(username: str, password: str, settings: Settings) -> User:
    """The user for these credentials; BadCredentials or Throttled otherwise."""
    now = _now()
    try:
        await _check_throttle(username, now)
    except Throttled:
        LOGINS.labels(result="throttled").inc()
        raise
    user = await User.get(username)
    ok = await verify_password(
        password, user.password_hash if user else None, settings.bcrypt_rounds
    )
    if user is None or not ok:
        await _record_failure(username, now)
        LOGINS.labels(result="failure").inc()
        raise BadCredentials()
    await LoginFailures.get_motor_collection().delete_one({"_id": username})
    LOGINS.labels(result="success").inc()
    return user


async def start_session(username: str, settings: Settings) -> str:
    """A new session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    expires_at = _now() + timedelta(seconds=settings.session_ttl_seconds)
    await Session(id=token_hash(token), username=username, expires_at=expires_at).insert()
    return token


async def end_session(token: str, sessions: SessionCache) -> None:
    key = token_hash(token)
    await Session.get_motor_collection().delete_one({"_id": key})
    sessions.revoke(key)


async def user_for_token(token: str, sessions: SessionCache) -> User | None:
    key = token_hash(token)
    cached = sessions.get(key)
    if cached is not None:
        return cached
    session = await Session.get(key)
    if session is None or session.expires_at <= _now():
        return None
    user = await User.get(session.username)
    if user is not None:
        sessions.put(key, user, session.expires_at)
    return user


def _sessions(connection: HTTPConnection) -> SessionCache:
    sessions: SessionCache = connection.app.state.sessions
    return sessions


async def session_cache(request: Request) -> SessionCache:
    """FastAPI dependency: the app's session cache."""
    return _sessions(request)


class SessionCookie(APIKeyCookie):
    """FastAPI dependency: the logged-in user, or 401.

    The session cookie is documented as the API's security scheme, and the user is
    found in one dependency with no parameters of its own: every authenticated request
    resolves it, and each further level (a Cookie parameter, a sub-dependency) costs
    FastAPI some 10 µs.
    """

    async def __call__(self, request: HTTPConnection) -> User:
        token = request.cookies.get(COOKIE_NAME)
        user = await user_for_token(token, _sessions(request)) if token else None
        if user is None:
            raise NotAuthenticated("Not authenticated")
        return user


current_user = SessionCookie(
    name=COOKIE_NAME,
    scheme_name="session",
    description="The cookie that POST /auth/login sets.",
    auto_error=False,
)


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    """FastAPI dependency: the logged-in admin, 401 or 403 otherwise."""
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
AdminUser = Annotated[User, Depends(admin_user)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
SessionCacheDep = Annotated[SessionCache, Depends(session_cache)]

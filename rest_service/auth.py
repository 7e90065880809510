"""Passwords, sessions, the login throttle, and the current-user dependency."""

import asyncio
import hashlib
import math
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, TypeVar

import bcrypt
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie
from pymongo import ReturnDocument
from starlette.requests import HTTPConnection

from rest_service.cache import MonitoredTTLCache
from rest_service.errors import Forbidden, NotAuthenticated, Throttled
from rest_service.metrics import LOGINS
from rest_service.models import ApiToken, LoginAttempts, Session, User
from rest_service.settings import Settings
from rest_service.shared_counter import SharedCounter

T = TypeVar("T")

COOKIE_NAME = "session"
MAX_FAILURES = 5  # per (account, client address) within FAILURE_WINDOW
MAX_ADDRESS_FAILURES = 50  # per client address, whatever the accounts
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY_SECONDS = 0.1  # answer to the 1st failure of a pair; doubles with each
MAX_DELAY_SECONDS = 2.0
BAD_CREDENTIALS = "Invalid username or password"


class BadCredentials(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__(BAD_CREDENTIALS)


def _lower_priority() -> None:
    """A password thread is background work next to the event loop: at a lower priority
    the loop always gets a core when it has requests to answer, and bcrypt uses the rest."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


# bcrypt is slow on purpose and releases the GIL. In the default thread pool a burst of
# logins would run as many hashes as there are threads, and every core would go to them:
# the event loop, and every other request, would wait. One thread per core, each at a
# lower priority, keeps the machine busy with a burst without starving the loop.
_PASSWORD_THREADS = ThreadPoolExecutor(
    max_workers=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2,
    thread_name_prefix="bcrypt",
    initializer=_lower_priority,
)


async def _in_password_thread(call: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_PASSWORD_THREADS, call, *args)


async def hash_password(password: str, rounds: int) -> str:
    hashed = await _in_password_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(rounds))
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
        dummy = await _in_password_thread(_dummy_hash, rounds)
        await _in_password_thread(_checkpw, password, dummy)
        return False
    return await _in_password_thread(_checkpw, password, password_hash)


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


@dataclass(frozen=True)
class _Attempt:
    """One login attempt's place in a throttle record: reserved before the password is
    checked, so that parallel guesses count at once, not after their bcrypt."""

    key: str
    nonce: str


async def _reserve(key: str, limit: int, now: datetime) -> _Attempt:
    """Count this attempt under ``key`` atomically (one document update), then refuse it
    if the earlier ones still in the window reach ``limit``."""
    nonce = secrets.token_hex(8)
    record = await LoginAttempts.get_motor_collection().find_one_and_update(
        {"_id": key},
        {
            "$push": {"attempts": {"$each": [{"at": now, "nonce": nonce}], "$slice": -(limit + 1)}},
            "$set": {"expires_at": now + FAILURE_WINDOW},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    earlier = [
        a["at"]
        for a in record["attempts"]
        if a["nonce"] != nonce and a["at"] > now - FAILURE_WINDOW
    ]
    wait = 0.0
    if len(earlier) >= limit:
        wait = (min(earlier) + FAILURE_WINDOW - now).total_seconds()
    attempt = _Attempt(key, nonce)
    if wait > 0:
        await _release(attempt)
        raise Throttled(
            f"Too many failed logins; retry in {math.ceil(wait)} s", retry_after=math.ceil(wait)
        )
    return attempt


async def _release(attempt: _Attempt) -> None:
    """Take a reserved attempt back: it was refused, or it succeeded."""
    await LoginAttempts.get_motor_collection().update_one(
        {"_id": attempt.key}, {"$pull": {"attempts": {"nonce": attempt.nonce}}}
    )


def failure_delay(failures: int) -> float:
    """Seconds to hold the answer to the n-th recent failure of an (account, address)."""
    return min(FIRST_DELAY_SECONDS * 2.0 ** (failures - 1), MAX_DELAY_SECONDS)


async def authenticate(username: str, password: str, address: str, settings: Settings) -> User:
    """The user for these credentials; BadCredentials or Throttled otherwise.

    Throttled per (account, client address), so that nobody elsewhere can lock the real
    user out, and per address across accounts, against password spraying (OWASP's
    authentication guidance). Each attempt is reserved before the password is checked,
    so the limits hold under any concurrency; each failure's answer comes a little later
    than the one before."""
    now = _now()
    reserved: list[_Attempt] = []
    try:
        reserved.append(await _reserve(f"addr:{address}", MAX_ADDRESS_FAILURES, now))
        reserved.append(await _reserve(f"user:{username}|{address}", MAX_FAILURES, now))
    except Throttled:
        for attempt in reserved:
            await _release(attempt)
        LOGINS.labels(result="throttled").inc()
        raise
    user = await User.get(username)
    ok = await verify_password(
        password, user.password_hash if user else None, settings.bcrypt_rounds
    )
    if user is None or not ok:
        LOGINS.labels(result="failure").inc()
        record = await LoginAttempts.get(reserved[1].key)
        failures = len(record.attempts) if record else 1
        await asyncio.sleep(failure_delay(failures))
        raise BadCredentials()
    # A success clears the pair's record and does not count against the address.
    await LoginAttempts.get_motor_collection().delete_one({"_id": reserved[1].key})
    await _release(reserved[0])
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


NEVER = datetime.max.replace(tzinfo=UTC)


def api_token_cache_key(stored_id: str) -> str:
    """An API token's key in the session cache: apart from sessions' keys, so that a token
    sent as the session cookie is never taken for a password login."""
    return f"api:{stored_id}"


async def user_for_api_token(token: str, sessions: SessionCache) -> User | None:
    """The owner of a live API token (see tokens.py), through the same cache as sessions:
    a revocation clears it everywhere."""
    stored_id = token_hash(token)
    key = api_token_cache_key(stored_id)
    cached = sessions.get(key)
    if cached is not None:
        return cached
    record = await ApiToken.get(stored_id)
    if record is None or (record.expires_at is not None and record.expires_at <= _now()):
        return None
    user = await User.get(record.username)
    if user is not None:
        sessions.put(key, user, record.expires_at or NEVER)
    return user


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
            user = await user_for_api_token(token, sessions) if token else None
            if user is None:
                raise NotAuthenticated("Invalid or expired API token")
            return user
        cookie = request.cookies.get(COOKIE_NAME)
        user = await user_for_token(cookie, sessions) if cookie else None
        if user is None:
            raise NotAuthenticated("Not authenticated")
        return user


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
SessionUser = Annotated[User, Depends(session_user)]
AdminUser = Annotated[User, Depends(admin_user)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
SessionCacheDep = Annotated[SessionCache, Depends(session_cache)]

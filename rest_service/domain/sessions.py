"""Logins and sessions: who a password, a session cookie or an API token belongs to.

Sessions and API tokens are looked up through one short-lived cache (SessionCache) that a
logout or a revocation clears in every worker at once.
"""

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from rest_service.domain.errors import NotAuthenticated, Throttled
from rest_service.domain.schemas import to_millis
from rest_service.security import (
    MAX_ADDRESS_FAILURES,
    MAX_FAILURES,
    Attempt,
    failed,
    failure_delay,
    release,
    reserve,
    succeeded,
    token_hash,
    verify_password,
)
from rest_service.settings import Settings
from rest_service.storage.documents import collection, load, stored
from rest_service.storage.models import ApiToken, Session, TokenScope, User
from rest_service.telemetry.cache import MonitoredTTLCache
from rest_service.telemetry.metrics import LOGINS
from rest_service.telemetry.shared_counter import SharedCounter

BAD_CREDENTIALS = "Invalid username or password"
# What a request is allowed by: a password login's session, or an API token's scope.
Grant = Literal["session"] | TokenScope


class BadCredentials(NotAuthenticated):
    def __init__(self) -> None:
        super().__init__(BAD_CREDENTIALS)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SessionCache:
    """Users by session-token hash, trusted for a short TTL to spare the database a
    lookup on every request. A logout bumps a counter shared by all workers, and each
    worker clears its cache when it sees the counter move, so a logged-out cookie is
    refused at once everywhere."""

    cache: MonitoredTTLCache[str, tuple[User, datetime, Grant]]
    logouts: SharedCounter
    seen_logouts: int = 0

    def get(self, key: str) -> tuple[User, Grant] | None:
        logouts = self.logouts.value
        if logouts != self.seen_logouts:
            self.cache.clear()
            self.seen_logouts = logouts
        entry: tuple[User, datetime, Grant] | None = self.cache.get(key)
        if entry is None:
            return None
        user, expires_at, grant = entry
        if expires_at <= _now():
            self.cache.pop(key, None)
            return None
        return user, grant

    def put(self, key: str, user: User, expires_at: datetime, grant: Grant = "session") -> None:
        self.cache[key] = (user, expires_at, grant)

    def revoke(self, key: str) -> None:
        self.cache.pop(key, None)
        self.logouts.increment()


async def authenticate(username: str, password: str, address: str, settings: Settings) -> User:
    """The user for these credentials; BadCredentials or Throttled otherwise.

    Throttled per (account, client address), so that nobody elsewhere can lock the real
    user out, and per address across accounts, against password spraying (OWASP's
    authentication guidance). Each attempt takes its place before the password is
    checked, so the limits hold under any concurrency; correct logins beyond the limit
    wait their turn rather than being refused. Each failure's answer comes a little later
    than the one before."""
    now = _now()
    reserved: list[Attempt] = []
    try:
        reserved.append(await reserve(f"addr:{address}", MAX_ADDRESS_FAILURES, now))
        reserved.append(await reserve(f"user:{username}|{address}", MAX_FAILURES, now))
    except Throttled:
        for attempt in reserved:
            await release(attempt)
        LOGINS.labels(result="throttled").inc()
        raise
    by_address, pair = reserved
    user = load(User, await collection(User).find_one({"_id": username}))
    ok = await verify_password(
        password, user.password_hash if user else None, settings.bcrypt_rounds
    )
    if user is None or not ok:
        LOGINS.labels(result="failure").inc()
        await failed(by_address)
        await asyncio.sleep(failure_delay(await failed(pair)))
        raise BadCredentials()
    # A success clears the pair's failures and does not count against the address.
    await succeeded(pair)
    await release(by_address)
    LOGINS.labels(result="success").inc()
    return user


async def start_session(username: str, address: str, settings: Settings) -> str:
    """A new session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = to_millis(_now())
    session = Session(
        id=token_hash(token),
        username=username,
        expires_at=now + timedelta(seconds=settings.session_ttl_seconds),
        session_id=secrets.token_hex(8),
        created_at=now,
        last_used_at=now,
        address=address,
    )
    await collection(Session).insert_one(stored(session))
    return token


async def end_session(token: str, sessions: SessionCache) -> None:
    key = token_hash(token)
    await collection(Session).delete_one({"_id": key})
    sessions.revoke(key)


async def user_for_token(token: str, sessions: SessionCache) -> User | None:
    key = token_hash(token)
    cached = sessions.get(key)
    if cached is not None:
        return cached[0]
    now = _now()
    # Read with its use noted, in one call: once per session cache TTL, not per request.
    found = await collection(Session).find_one_and_update(
        {"_id": key}, {"$set": {"last_used_at": to_millis(now)}}
    )
    session = load(Session, found)
    if session is None or session.expires_at <= now:
        return None
    user = load(User, await collection(User).find_one({"_id": session.username}))
    if user is not None:
        sessions.put(key, user, session.expires_at)
    return user


NEVER = datetime.max.replace(tzinfo=UTC)


def api_token_cache_key(stored_id: str) -> str:
    """An API token's key in the session cache: apart from sessions' keys, so that a token
    sent as the session cookie is never taken for a password login."""
    return f"api:{stored_id}"


async def user_for_api_token(token: str, sessions: SessionCache) -> tuple[User, TokenScope] | None:
    """The owner of a live API token (see tokens.py) as the token may act, and its scope,
    through the same cache as sessions: a revocation clears it everywhere. A write token
    acts on its owner's runs only, even an admin's."""
    stored_id = token_hash(token)
    key = api_token_cache_key(stored_id)
    cached = sessions.get(key)
    if cached is not None:
        user, grant = cached
        return (user, grant) if grant != "session" else None
    record = load(ApiToken, await collection(ApiToken).find_one({"_id": stored_id}))
    if record is None or (record.expires_at is not None and record.expires_at <= _now()):
        return None
    owner = load(User, await collection(User).find_one({"_id": record.username}))
    if owner is None:
        return None
    user = owner.model_copy(update={"is_admin": False}) if record.scope == "write" else owner
    sessions.put(key, user, record.expires_at or NEVER, record.scope)
    return user, record.scope

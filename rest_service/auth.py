"""Passwords, sessions, the login throttle, and the current-user dependency."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated

import bcrypt
from fastapi import Cookie, Depends, Request
from starlette.concurrency import run_in_threadpool

from rest_service.errors import Forbidden, NotAuthenticated, Throttled
from rest_service.models import LoginFailures, Session, User
from rest_service.settings import Settings

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


async def _check_throttle(username: str, now: datetime) -> None:
    record = await LoginFailures.get(username)
    if record is None:
        return
    recent = [t for t in record.failures if t > now - FAILURE_WINDOW]
    if len(recent) >= MAX_FAILURES:
        retry_after = (recent[-MAX_FAILURES] + FAILURE_WINDOW - now).total_seconds()
        raise Throttled(
            f"Too many failed logins for this username; retry in {int(retry_after) + 1} s",
            retry_after=int(retry_after) + 1,
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
    await _check_throttle(username, now)
    user = await User.get(username)
    ok = await verify_password(
        password, user.password_hash if user else None, settings.bcrypt_rounds
    )
    if user is None or not ok:
        await _record_failure(username, now)
        raise BadCredentials()
    await LoginFailures.find_one(LoginFailures.id == username).delete()
    return user


async def start_session(username: str, settings: Settings) -> str:
    """A new session for the user; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    expires_at = _now() + timedelta(seconds=settings.session_ttl_seconds)
    await Session(id=token_hash(token), username=username, expires_at=expires_at).insert()
    return token


async def end_session(token: str) -> None:
    await Session.get_motor_collection().delete_one({"_id": token_hash(token)})


async def user_for_token(token: str) -> User | None:
    session = await Session.get(token_hash(token))
    if session is None or session.expires_at <= _now():
        return None
    return await User.get(session.username)


async def current_user(
    session: Annotated[str | None, Cookie(alias=COOKIE_NAME)] = None,
) -> User:
    """FastAPI dependency: the logged-in user, or 401."""
    user = await user_for_token(session) if session else None
    if user is None:
        raise NotAuthenticated("Not authenticated")
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    """FastAPI dependency: the logged-in admin, 401 or 403 otherwise."""
    if not user.is_admin:
        raise Forbidden("Admin rights required")
    return user


def app_settings(request: Request) -> Settings:
    """FastAPI dependency: the settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
SettingsDep = Annotated[Settings, Depends(app_settings)]

"""The sessions a user controls: listed, ended one by one or all but the one in use, ended
by the admin, and ended by a change of password.

A session is named by its public ``session_id``; its token and the token's hash never
leave the service. Ending one deletes it and clears it from every worker's session cache
(``SessionCache.revoke``), so its cookie is refused from the next request on. API tokens
are not sessions: a password change leaves them alone (they are revoked one by one).
"""

from datetime import UTC, datetime
from typing import Any

from rest_service.domain.errors import Forbidden, NotFound
from rest_service.domain.sessions import (
    BadCredentials,
    SessionCache,
    authenticate,
)
from rest_service.security import hash_password, token_hash
from rest_service.settings import Settings
from rest_service.storage.documents import collection, load
from rest_service.storage.models import Session, User

LISTED = 100  # sessions a listing shows, the most recently used first


async def list_sessions(username: str, current_token: str | None) -> list[tuple[Session, bool]]:
    """The user's live sessions, each with whether it is the one presented."""
    current = token_hash(current_token) if current_token else None
    now = datetime.now(UTC)
    found = (
        collection(Session)
        .find({"username": username, "expires_at": {"$gt": now}})
        .sort("last_used_at", -1)
        .limit(LISTED)
    )
    sessions = [load(Session, doc) async for doc in found]
    return [(s, s.id == current) for s in sessions if s is not None]


async def _end(query: dict[str, Any], sessions: SessionCache) -> int:
    """Delete the sessions ``query`` finds; returns how many."""
    stored = collection(Session)
    keys = [doc["_id"] async for doc in stored.find(query, {"_id": 1})]
    if keys:
        await stored.delete_many({"_id": {"$in": keys}})
    for key in keys:
        sessions.revoke(key)
    return len(keys)


async def end_session_by_id(username: str, session_id: str, sessions: SessionCache) -> None:
    """End one of the user's sessions; NotFound when it is not one of theirs."""
    if not await _end({"username": username, "session_id": session_id}, sessions):
        raise NotFound(f"No session {session_id!r} of yours")


async def end_other_sessions(
    username: str, current_token: str | None, sessions: SessionCache
) -> int:
    """End every session of the user but the one presented; returns how many ended."""
    query: dict[str, Any] = {"username": username}
    if current_token:
        query["_id"] = {"$ne": token_hash(current_token)}
    return await _end(query, sessions)


async def end_sessions_of(username: str, sessions: SessionCache) -> int:
    """The admin ends every session of ``username``; NotFound for no such user."""
    if await collection(User).find_one({"_id": username}, {"_id": 1}) is None:
        raise NotFound(f"No user {username!r}")
    return await _end({"username": username}, sessions)


async def change_password(
    user: User,
    current_password: str,
    new_password: str,
    address: str,
    current_token: str | None,
    sessions: SessionCache,
    settings: Settings,
) -> int:
    """Check the current password (under the login throttle), store the new one's hash
    and end every other session; returns how many ended."""
    try:
        await authenticate(user.id, current_password, address, settings)
    except BadCredentials:
        raise Forbidden("current_password is not this user's password") from None
    password_hash = await hash_password(new_password, settings.bcrypt_rounds)
    await collection(User).update_one({"_id": user.id}, {"$set": {"password_hash": password_hash}})
    return await end_other_sessions(user.id, current_token, sessions)

"""API tokens: created by a logged-in user, named, scoped, listed, revoked, optionally
expiring.

A token is ``lw_`` and 43 random URL-safe characters; the service keeps its SHA-256 only
(``security.token_hash``), as it does for sessions, and shows the token once, when it is
made. Its scope is ``read`` (GET only) or ``write`` (also its owner's runs, samples and
events); no token reaches the admin routes (api/deps.py). A revoked token's hash is kept,
so that GRAFANA_API_TOKEN, once revoked, is not added back at the next start. A user
holds at most MAX_TOKENS_PER_USER tokens of their own making (a cap held on every server,
``domain/caps.py``); the tokens the service provisions at start-up are outside it.
"""

import secrets
from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from rest_service.domain import caps
from rest_service.domain.errors import NotFound
from rest_service.domain.schemas import to_millis
from rest_service.domain.sessions import SessionCache, api_token_cache_key
from rest_service.security import token_hash
from rest_service.storage.documents import collection, stored
from rest_service.storage.models import ApiToken, RevokedToken, TokenScope, User

PREFIX = "lw_"
MAX_TOKENS_PER_USER = 100
GRAFANA_TOKEN_NAME = "grafana"  # noqa: S105 - a name, not a secret
MONITOR_TOKEN_NAME = "cpu-monitor"  # noqa: S105 - a name, not a secret


def _record(
    token: str, name: str, username: str, expires_at: datetime | None, scope: TokenScope
) -> ApiToken:
    """Times to the millisecond, as MongoDB keeps them: what is answered is what is stored."""
    return ApiToken(
        id=token_hash(token),
        token_id=secrets.token_hex(8),
        name=name,
        username=username,
        created_at=to_millis(datetime.now(UTC)),
        expires_at=None if expires_at is None else to_millis(expires_at),
        scope=scope,
    )


async def create_token(
    user: User, name: str, expires_in_days: int | None, scope: TokenScope
) -> tuple[ApiToken, str]:
    """A new token for the user: the stored record, and the token to show once."""
    token = PREFIX + secrets.token_urlsafe(32)
    expires_at = None
    if expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    record = _record(token, name, user.id, expires_at, scope)
    async with caps.slot_for(caps.TOKENS, user.id, record.id, MAX_TOKENS_PER_USER):
        await collection(ApiToken).insert_one(stored(record))
    return record, token


async def list_tokens(user: User) -> list[ApiToken]:
    found = collection(ApiToken).find({"username": user.id}).sort("created_at", 1)
    return [ApiToken.model_validate(raw) async for raw in found]


async def revoke_token(user: User, token_id: str, sessions: SessionCache) -> None:
    """Revoke one of the user's tokens; refused at once by every worker."""
    record = await collection(ApiToken).find_one_and_delete(
        {"username": user.id, "token_id": token_id}
    )
    if record is None:
        raise NotFound("Token not found")
    await caps.give_back(caps.TOKENS, record["_id"])
    await collection(RevokedToken).replace_one(
        {"_id": record["_id"]}, {"revoked_at": to_millis(datetime.now(UTC))}, upsert=True
    )
    sessions.revoke(api_token_cache_key(record["_id"]))


def provisioned_id(name: str) -> str:
    """The public id of the token the service provisions under ``name``: its own, so that a
    new value replaces it and nothing else."""
    return f"provisioned-{name}"


async def ensure_token(username: str, token: str, name: str, scope: TokenScope) -> str:
    """At start-up: the user holds this provisioned token (GRAFANA_API_TOKEN, read, so that
    a provisioned Grafana can read the API; MONITOR_API_TOKEN, write, for compose's
    cpu-monitor). A changed value revokes the token provisioned before it, found by its
    own id; tokens a user made, whatever their names, are left alone. What happened:
    "added", "kept" or "revoked" (it was revoked through the API, and stays so)."""
    stored_id = token_hash(token)
    own_id = provisioned_id(name)
    tokens = collection(ApiToken)
    await tokens.delete_many({"username": username, "token_id": own_id, "_id": {"$ne": stored_id}})
    if await collection(RevokedToken).find_one({"_id": stored_id}, {"_id": 1}) is not None:
        await tokens.delete_one({"_id": stored_id})
        return "revoked"
    found = await tokens.find_one_and_update(
        {"_id": stored_id}, {"$set": {"scope": scope, "token_id": own_id}}
    )
    if found is not None:
        return "kept"
    record = _record(token, name, username, None, scope).model_copy(update={"token_id": own_id})
    try:
        await tokens.insert_one(stored(record))
    except DuplicateKeyError:  # another worker added it first
        return "kept"
    return "added"

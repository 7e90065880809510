"""Creating users, and the admin bootstrap at start-up."""

import logging
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from rest_service.domain.errors import Conflict
from rest_service.domain.tokens import GRAFANA_TOKEN_NAME, MONITOR_TOKEN_NAME, ensure_token
from rest_service.security import hash_password
from rest_service.settings import Settings
from rest_service.storage.documents import collection, stored
from rest_service.storage.models import User

log = logging.getLogger(__name__)

DEFAULT_ADMIN = ("admin", "admin")


async def create_user(username: str, password: str, is_admin: bool, rounds: int) -> User:
    # A taken name is refused before paying for a hash (the insert still guards races).
    if await collection(User).find_one({"_id": username}, {"_id": 1}) is not None:
        raise Conflict(f"User {username!r} already exists")
    password_hash = await hash_password(password, rounds)
    user = User(
        id=username,
        password_hash=password_hash,
        is_admin=is_admin,
        created_at=datetime.now(UTC),
    )
    try:
        await collection(User).insert_one(stored(user))
    except DuplicateKeyError:
        raise Conflict(f"User {username!r} already exists") from None
    return user


async def ensure_provisioned_tokens(settings: Settings) -> None:
    """The admin holds GRAFANA_API_TOKEN (read) and MONITOR_API_TOKEN (write), when set."""
    wanted = [
        (settings.grafana_api_token, GRAFANA_TOKEN_NAME, "read"),
        (settings.monitor_api_token, MONITOR_TOKEN_NAME, "write"),
    ]
    username = settings.admin_username or DEFAULT_ADMIN[0]
    for secret, name, scope in wanted:
        if secret is None:
            continue
        if await collection(User).find_one({"_id": username}, {"_id": 1}) is None:
            log.warning("A token %r is to be provisioned, but there is no user %r", name, username)
            return
        done = await ensure_token(username, secret.get_secret_value(), name, scope)  # type: ignore[arg-type]
        if done == "added":
            log.info("Added the %s API token %r for %r", scope, name, username)
        elif done == "revoked":
            log.warning(
                "The API token %r was revoked through the API and stays revoked: set a new one",
                name,
            )


async def ensure_admin(settings: Settings) -> None:
    """Create the configured admin when no user exists yet."""
    if await collection(User).find_one({}, {"_id": 1}) is not None:
        return
    if settings.admin_username and settings.admin_password:
        username, password = settings.admin_username, settings.admin_password.get_secret_value()
    elif settings.embedded:
        username, password = DEFAULT_ADMIN
        log.warning(
            "No ADMIN_USERNAME/ADMIN_PASSWORD set: created the admin %r with password %r "
            "in the embedded database. Set both variables to choose your own.",
            username,
            password,
        )
    else:
        log.warning(
            "The database has no user and ADMIN_USERNAME/ADMIN_PASSWORD are unset: "
            "create one with `python -m rest_service create-user NAME --admin`."
        )
        return
    try:
        await create_user(username, password, is_admin=True, rounds=settings.bcrypt_rounds)
    except Conflict:  # another worker created it first
        return
    log.info("Created the admin user %r", username)

"""Password hashing in its own thread pool, token hashes, and the login throttle's records.

bcrypt is slow on purpose: every check runs in a small pool of low-priority threads, so a
burst of logins cannot take the cores from the event loop. The throttle counts attempts
per key (an account from an address, or an address) in one document each, updated
atomically, so its limits hold under any concurrency.
"""

import asyncio
import hashlib
import math
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import bcrypt
from pymongo import ReturnDocument

from rest_service.domain.errors import Throttled
from rest_service.storage.documents import collection
from rest_service.storage.models import LoginAttempts

T = TypeVar("T")

MAX_FAILURES = 5  # per (account, client address) within FAILURE_WINDOW
MAX_ADDRESS_FAILURES = 50  # per client address, whatever the accounts
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY_SECONDS = 0.1  # answer to the 1st failure of a pair; doubles with each
MAX_DELAY_SECONDS = 2.0


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


@dataclass(frozen=True)
class Attempt:
    """One login attempt's place in a throttle record: reserved before the password is
    checked, so that parallel guesses count at once, not after their bcrypt."""

    key: str
    at: datetime  # to the millisecond, as stored
    nonce: str

    def element(self) -> dict[str, object]:
        """The attempt as it stands in the record's array."""
        return {"at": self.at, "nonce": self.nonce}


async def reserve(key: str, limit: int, now: datetime) -> Attempt:
    """Count this attempt under ``key`` atomically (one document update), then refuse it
    if the earlier ones still in the window reach ``limit``."""
    nonce = secrets.token_hex(8)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    attempt = Attempt(key, now, nonce)
    record = await collection(LoginAttempts).find_one_and_update(
        {"_id": key},
        {
            "$push": {"attempts": {"$each": [attempt.element()], "$slice": -(limit + 1)}},
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
    if wait > 0:
        await release(attempt)
        raise Throttled(
            f"Too many failed logins; retry in {math.ceil(wait)} s", retry_after=math.ceil(wait)
        )
    return attempt


async def release(attempt: Attempt) -> None:
    """Take a reserved attempt back: it was refused, or it succeeded. The whole element is
    named: FerretDB's ``$pull`` matches whole elements only, where MongoDB would also take
    ``{"nonce": …}`` as a query on them."""
    await collection(LoginAttempts).update_one(
        {"_id": attempt.key}, {"$pull": {"attempts": attempt.element()}}
    )


async def attempts_of(key: str) -> int:
    """How many attempts the record of ``key`` holds (at least this one's)."""
    record = await collection(LoginAttempts).find_one({"_id": key}, {"attempts": 1})
    return len(record["attempts"]) if record else 1


async def forget(key: str) -> None:
    """Drop the record of ``key``: its attempts no longer count."""
    await collection(LoginAttempts).delete_one({"_id": key})


def failure_delay(failures: int) -> float:
    """Seconds to hold the answer to the n-th recent failure of an (account, address)."""
    return min(FIRST_DELAY_SECONDS * 2.0 ** (failures - 1), MAX_DELAY_SECONDS)

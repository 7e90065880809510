"""Password hashing in its own thread pool, token hashes, and the login throttle's records.

bcrypt is slow on purpose: every check runs in a small pool of low-priority threads, so a
burst of logins cannot take the cores from the event loop. The throttle counts attempts
per key (an account from an address, or an address) in one document each, updated
atomically, so its limits hold under any concurrency: parallel correct logins wait their
turn, parallel guesses stop at the limit.
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
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import bcrypt
from pymongo import ReturnDocument

from rest_service.domain.errors import Throttled
from rest_service.domain.schemas import to_millis
from rest_service.storage.documents import collection
from rest_service.storage.models import LoginAttempts

T = TypeVar("T")

MAX_FAILURES = 5  # per (account, client address) within FAILURE_WINDOW
MAX_ADDRESS_FAILURES = 50  # per client address, whatever the accounts
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY_SECONDS = 0.1  # answer to the 1st failure of a pair; doubles with each
MAX_DELAY_SECONDS = 2.0
KEPT_FAILURES = MAX_ADDRESS_FAILURES + 1  # the longest list any key needs
# An attempt waits its turn at most this long, polling every WAIT_STEP_SECONDS; with more
# than MAX_WAITING ahead of it, it is refused at once.
MAX_WAIT_SECONDS = 30.0
WAIT_STEP_SECONDS = 0.05
MAX_WAITING = 500
# A place older than this belongs to a process that died during its check.
PENDING_LOST_AFTER = timedelta(seconds=60)


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
    """One login attempt's place in a throttle record's ``pending`` list: taken before the
    password is checked, so that parallel attempts count at once, not after their bcrypt."""

    key: str
    at: datetime  # to the millisecond, as stored
    nonce: str

    def element(self) -> dict[str, object]:
        """The attempt as it stands in the record's arrays."""
        return {"at": self.at, "nonce": self.nonce}


def _recent_failures(record: dict[str, Any], now: datetime) -> list[datetime]:
    return [a["at"] for a in record.get("attempts", []) if a["at"] > now - FAILURE_WINDOW]


def _ahead(record: dict[str, Any], attempt: Attempt, now: datetime) -> int | None:
    """How many live attempts of the record came before ``attempt`` (None: not in it)."""
    ahead = 0
    for element in record.get("pending", []):
        if element["nonce"] == attempt.nonce:
            return ahead
        if element["at"] > now - PENDING_LOST_AFTER:
            ahead += 1
    return None


async def reserve(key: str, limit: int, now: datetime) -> Attempt:
    """Take a place for this attempt under ``key`` (one atomic update), then wait for its
    turn: the recent failures and the attempts ahead of it, together, stay under
    ``limit``. So at most ``limit`` passwords are checked at once, and a failure takes the
    place of the check that made it: once ``limit`` failures are recent, every attempt is
    refused (Throttled) without a check, while correct logins only ever wait."""
    attempt = Attempt(key, to_millis(now), secrets.token_hex(8))
    records = collection(LoginAttempts)
    record: dict[str, Any] | None = await records.find_one_and_update(
        {"_id": key},
        {"$push": {"pending": attempt.element()}, "$set": {"expires_at": now + FAILURE_WINDOW}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    waited = 0.0
    while True:
        clock = datetime.now(UTC)
        failures = _recent_failures(record or {}, clock)
        if len(failures) >= limit:
            await release(attempt)
            wait = math.ceil((sorted(failures)[-limit] + FAILURE_WINDOW - clock).total_seconds())
            raise Throttled(f"Too many failed logins; retry in {wait} s", retry_after=wait)
        ahead = _ahead(record or {}, attempt, clock)
        if ahead is None or len(failures) + ahead < limit:
            return attempt
        if ahead > MAX_WAITING or waited >= MAX_WAIT_SECONDS:
            await release(attempt)
            raise Throttled("Too many logins at once; retry in 1 s", retry_after=1)
        await asyncio.sleep(WAIT_STEP_SECONDS)
        waited += WAIT_STEP_SECONDS
        record = await records.find_one({"_id": key})


async def release(attempt: Attempt) -> None:
    """Take an attempt's place back: it was refused, or it succeeded. The whole element is
    named: FerretDB's ``$pull`` matches whole elements only, where MongoDB would also take
    ``{"nonce": …}`` as a query on them."""
    await collection(LoginAttempts).update_one(
        {"_id": attempt.key}, {"$pull": {"pending": attempt.element()}}
    )


async def failed(attempt: Attempt) -> int:
    """The attempt failed: it leaves ``pending`` for the failures. Returns how many recent
    failures the key has now."""
    record = await collection(LoginAttempts).find_one_and_update(
        {"_id": attempt.key},
        {
            "$pull": {"pending": attempt.element()},
            "$push": {"attempts": {"$each": [attempt.element()], "$slice": -KEPT_FAILURES}},
        },
        return_document=ReturnDocument.AFTER,
    )
    return len(_recent_failures(record or {}, datetime.now(UTC)))


async def succeeded(attempt: Attempt) -> None:
    """The attempt succeeded: its place is freed and the key's failures are forgotten."""
    await collection(LoginAttempts).update_one(
        {"_id": attempt.key}, {"$pull": {"pending": attempt.element()}, "$set": {"attempts": []}}
    )


def failure_delay(failures: int) -> float:
    """Seconds to hold the answer to the n-th recent failure of an (account, address)."""
    return min(FIRST_DELAY_SECONDS * 2.0 ** (failures - 1), MAX_DELAY_SECONDS)

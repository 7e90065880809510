"""Password hashing in its own thread pool, token hashes, and the login throttle's records.

bcrypt is slow on purpose: every check runs in a small pool of low-priority threads, so a
burst of logins cannot take the cores from the event loop. The throttle gives each key (an
account from an address, or an address) a fixed number of slots, one document each, taken
by inserting it: its limits hold under any concurrency on every server, parallel correct
logins wait their turn, and parallel guesses stop at the limit.
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

from rest_service.domain.errors import Throttled
from rest_service.storage import slots as storage_slots
from rest_service.storage.documents import collection
from rest_service.storage.models import LoginSlot

T = TypeVar("T")

MAX_FAILURES = 5  # per (account, client address) within FAILURE_WINDOW
MAX_ADDRESS_FAILURES = 50  # per client address, whatever the accounts
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY_SECONDS = 0.1  # answer to the 1st failure of a pair; doubles with each
MAX_DELAY_SECONDS = 2.0
# An attempt waits for a free slot at most this long, looking every WAIT_STEP_SECONDS.
MAX_WAIT_SECONDS = 30.0
WAIT_STEP_SECONDS = 0.05
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
    """One login attempt's slot under a throttle key, taken before the password is checked,
    so that parallel attempts count at once, not after their bcrypt."""

    key: str
    slot: str  # the slot document's _id (storage/slots.py)
    nonce: str


async def _take(key: str, limit: int, nonce: str, now: datetime) -> Attempt | None:
    """Insert this attempt into a free slot of ``key``; None when all ``limit`` are held.
    Slots whose time has passed (a failure out of the window, a place its process lost)
    are deleted first, each by its own nonce, so that two attempts never both free it."""
    slots = collection(LoginSlot)
    held: set[str] = set()
    async for doc in slots.find({"key": key}):
        if doc["expires_at"] <= now:
            await slots.delete_one({"_id": doc["_id"], "nonce": doc["nonce"]})
        else:
            held.add(doc["_id"])
    fields = {"key": key, "nonce": nonce, "failed": False, "expires_at": now + PENDING_LOST_AFTER}
    slot = await storage_slots.take(LoginSlot, key, limit, held, fields)
    return None if slot is None else Attempt(key, slot, nonce)


async def _failures(key: str, now: datetime) -> list[datetime]:
    """When each recent failure of ``key`` leaves the window."""
    found = collection(LoginSlot).find({"key": key, "failed": True})
    return [doc["expires_at"] async for doc in found if doc["expires_at"] > now]


async def reserve(key: str, limit: int, now: datetime) -> Attempt:
    """Take one of ``limit`` slots for this attempt under ``key``, waiting for one to free.
    A slot is a document with its own _id, and inserting on a unique key is atomic on every
    wire server (conditional updates of one document are not, on FerretDB): at most
    ``limit`` passwords are checked at once, and a failure keeps its slot for the window.
    Once ``limit`` failures are recent, every attempt is refused (Throttled) without a
    check, while correct logins only ever wait."""
    nonce = secrets.token_hex(8)
    waited = 0.0
    while True:
        clock = max(now, datetime.now(UTC))
        attempt = await _take(key, limit, nonce, clock)
        if attempt is not None:
            return attempt
        failures = await _failures(key, clock)
        if len(failures) >= limit:
            wait = math.ceil((min(failures) - clock).total_seconds())
            raise Throttled(f"Too many failed logins; retry in {wait} s", retry_after=wait)
        if waited >= MAX_WAIT_SECONDS:
            raise Throttled("Too many logins at once; retry in 1 s", retry_after=1)
        await asyncio.sleep(WAIT_STEP_SECONDS)
        waited += WAIT_STEP_SECONDS


async def release(attempt: Attempt) -> None:
    """Give an attempt's slot back: it was refused, or it succeeded."""
    await collection(LoginSlot).delete_one({"_id": attempt.slot, "nonce": attempt.nonce})


async def failed(attempt: Attempt) -> int:
    """The attempt failed: its slot stays held for the window, as a failure. Returns how
    many recent failures the key has now."""
    now = datetime.now(UTC)
    await collection(LoginSlot).update_one(
        {"_id": attempt.slot, "nonce": attempt.nonce},
        {"$set": {"failed": True, "expires_at": now + FAILURE_WINDOW}},
    )
    return len(await _failures(attempt.key, now))


async def succeeded(attempt: Attempt) -> None:
    """The attempt succeeded: its slot is freed and the key's failures are forgotten."""
    await release(attempt)
    await collection(LoginSlot).delete_many({"key": attempt.key, "failed": True})


def failure_delay(failures: int) -> float:
    """Seconds to hold the answer to the n-th recent failure of an (account, address)."""
    return min(FIRST_DELAY_SECONDS * 2.0 ** (failures - 1), MAX_DELAY_SECONDS)

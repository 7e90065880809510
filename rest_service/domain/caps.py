"""Caps on what a user holds at once (running runs, API tokens), held on every server.

Each thing held takes one of its owner's ``limit`` slots (``storage/slots.py``): inserts on
a unique key hold under any concurrency, where a count followed by an insert lets a burst
of parallel creates all see room. Creating takes the slot first, then stores the thing;
ending, revoking or deleting it gives the slot back.

When a cap would refuse, slots left behind by a service that stopped are taken back: a
slot whose holder no longer holds (a run that ended), or whose holder is not stored and
that was taken more than ``UNBORN_GRACE`` ago (its service stopped between the two writes,
or the holder expired). A young slot without its holder is a create under way, between
taking the slot and storing what it holds: taking that back would let a burst pass the cap.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import Document

from rest_service.domain.errors import Conflict
from rest_service.storage import slots as storage_slots
from rest_service.storage.documents import collection
from rest_service.storage.models import ApiToken, OpenRunSlot, Run, TokenSlot

# How long a create may take between taking its slot and storing what it holds.
UNBORN_GRACE = timedelta(minutes=1)
LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Cap:
    slots: type[Document]  # the slot documents: _id OWNER#i, owner, holder_field, taken_at
    holders: type[Document]  # what holds a slot, found by its _id
    holder_field: str  # the slot's field naming its holder's _id
    refusal: str  # the Conflict's message, formatted with the limit
    holding: dict[str, Any] = field(default_factory=dict)  # a holder that holds matches this


OPEN_RUNS = Cap(
    OpenRunSlot,
    Run,
    "run_id",
    "A user may have at most {limit} running runs (MAX_OPEN_RUNS_PER_USER): "
    "finish or abort one first",
    {"status": "running"},
)
TOKENS = Cap(
    TokenSlot, ApiToken, "token", "A user may hold at most {limit} tokens: revoke one first"
)


async def _take_back_stale(cap: Cap, slots: list[dict[str, Any]]) -> int:
    """Free the slots whose holder no longer holds, or was never stored by a create that
    began more than UNBORN_GRACE ago; returns how many."""
    ids = [slot[cap.holder_field] for slot in slots]
    holds = {
        doc["_id"]: all(doc.get(k) == v for k, v in cap.holding.items())
        async for doc in collection(cap.holders).find(
            {"_id": {"$in": ids}}, {"_id": 1, **{k: 1 for k in cap.holding}}
        )
    }
    unborn_before = datetime.now(UTC) - UNBORN_GRACE
    freed = 0
    for slot in slots:
        holder = slot[cap.holder_field]
        if holder in holds:
            stale = not holds[holder]
        else:
            stale = (slot.get("taken_at") or LONG_AGO) < unborn_before
        if stale:
            gone = await collection(cap.slots).delete_one(
                {"_id": slot["_id"], cap.holder_field: holder}
            )
            freed += gone.deleted_count
    return freed


async def take(cap: Cap, owner: str, holder: Any, limit: int) -> None:
    """A slot for ``holder``, about to be stored; Conflict naming the cap when all are held."""
    fields = {"owner": owner, cap.holder_field: holder, "taken_at": datetime.now(UTC)}
    for _ in range(2):
        slots = [doc async for doc in collection(cap.slots).find({"owner": owner})]
        held = {slot["_id"] for slot in slots}
        if await storage_slots.take(cap.slots, owner, limit, held, fields):
            return
        if not await _take_back_stale(cap, slots):
            break
    raise Conflict(cap.refusal.format(limit=limit))


@asynccontextmanager
async def slot_for(cap: Cap, owner: str, holder: Any, limit: int) -> AsyncIterator[None]:
    """Hold a slot for ``holder`` while the body stores it; given back if the body fails."""
    await take(cap, owner, holder, limit)
    try:
        yield
    except BaseException:
        await give_back(cap, holder)
        raise


async def give_back(cap: Cap, holder: Any) -> None:
    """``holder`` holds no more (ended, revoked, deleted, or never stored): its slot is free."""
    await collection(cap.slots).delete_one({cap.holder_field: holder})

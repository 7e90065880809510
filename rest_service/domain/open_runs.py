"""The cap on a user's open (running) runs, held on every server.

Each running run holds one of its owner's ``cap`` slots: a document whose _id is
``OWNER#i``, taken by inserting it. Inserting on a unique key is atomic on every wire
server, where a count followed by an insert is not (a burst of parallel creates would all
see room): so the cap holds under any concurrency. A run that ends, is abandoned or is
deleted gives its slot back; a slot whose run is no longer running (its service stopped
between the two writes) is taken back when the cap would refuse.
"""

from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from rest_service.domain.errors import Conflict
from rest_service.storage.documents import collection
from rest_service.storage.models import OpenRunSlot, Run


async def _held(owner: str) -> list[dict[str, Any]]:
    return [doc async for doc in collection(OpenRunSlot).find({"owner": owner})]


async def _insert_free(owner: str, run_id: ObjectId, cap: int, held: set[str]) -> bool:
    for index in range(cap):
        slot = f"{owner}#{index}"
        if slot in held:
            continue
        try:
            await collection(OpenRunSlot).insert_one(
                {"_id": slot, "owner": owner, "run_id": run_id}
            )
        except DuplicateKeyError:  # another create took it since the read
            continue
        return True
    return False


async def _take_back_stale(slots: list[dict[str, Any]]) -> int:
    """Free the slots whose run is no longer running; returns how many."""
    ids = [slot["run_id"] for slot in slots]
    running = {
        doc["_id"]
        async for doc in collection(Run).find(
            {"_id": {"$in": ids}, "status": "running"}, {"_id": 1}
        )
    }
    freed = 0
    for slot in slots:
        if slot["run_id"] not in running:
            gone = await collection(OpenRunSlot).delete_one(
                {"_id": slot["_id"], "run_id": slot["run_id"]}
            )
            freed += gone.deleted_count
    return freed


async def take(owner: str, run_id: ObjectId, cap: int) -> None:
    """A slot for the new run ``run_id``; Conflict naming the cap when all are held."""
    for _ in range(2):
        slots = await _held(owner)
        if await _insert_free(owner, run_id, cap, {slot["_id"] for slot in slots}):
            return
        if not await _take_back_stale(slots):
            break
    raise Conflict(
        f"A user may have at most {cap} running runs (MAX_OPEN_RUNS_PER_USER): "
        "finish or abort one first"
    )


async def give_back(run_id: ObjectId) -> None:
    """The run is no longer running: its slot is free."""
    await collection(OpenRunSlot).delete_one({"run_id": run_id})

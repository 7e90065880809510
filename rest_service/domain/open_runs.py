"""The cap on a user's open (running) runs, held on every server.

Each running run holds one of its owner's ``cap`` slots (``storage/slots.py``), which
hold under any concurrency, where a count followed by an insert would let a burst of
parallel creates all see room. A run that ends, is abandoned or is deleted gives its slot
back. When the cap would refuse, a slot is taken back if its run has ended (its service
stopped before giving the slot back), or if its run was never stored and the slot is older
than ``UNBORN_GRACE`` (its service stopped between the two writes). A young slot without
its run is a create still under way, between taking the slot and storing the run: taking
that back would let a burst of creates pass the cap.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from rest_service.domain.errors import Conflict
from rest_service.storage import slots as storage_slots
from rest_service.storage.documents import collection
from rest_service.storage.models import OpenRunSlot, Run

# How long a create may take between taking its slot and storing its run.
UNBORN_GRACE = timedelta(minutes=1)


async def _held(owner: str) -> list[dict[str, Any]]:
    return [doc async for doc in collection(OpenRunSlot).find({"owner": owner})]


async def _take_back_stale(slots: list[dict[str, Any]]) -> int:
    """Free the slots whose run has ended, or was never stored by a create that began
    more than UNBORN_GRACE ago; returns how many."""
    ids = [slot["run_id"] for slot in slots]
    status = {
        doc["_id"]: doc["status"]
        async for doc in collection(Run).find({"_id": {"$in": ids}}, {"status": 1})
    }
    unborn_before = datetime.now(UTC) - UNBORN_GRACE
    freed = 0
    for slot in slots:
        run_id: ObjectId = slot["run_id"]
        ended = run_id in status and status[run_id] != "running"
        if ended or (run_id not in status and run_id.generation_time < unborn_before):
            gone = await collection(OpenRunSlot).delete_one(
                {"_id": slot["_id"], "run_id": slot["run_id"]}
            )
            freed += gone.deleted_count
    return freed


async def take(owner: str, run_id: ObjectId, cap: int) -> None:
    """A slot for the new run ``run_id``; Conflict naming the cap when all are held."""
    for _ in range(2):
        slots = await _held(owner)
        held = {slot["_id"] for slot in slots}
        if await storage_slots.take(
            OpenRunSlot, owner, cap, held, {"owner": owner, "run_id": run_id}
        ):
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

"""The cap on a user's running runs, at the moments between a create's two writes (its
slot, then its run), replayed one step at a time on the embedded database."""

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from embedded_mongo import embedded_client
from rest_service.domain import open_runs, runs
from rest_service.domain.errors import Conflict
from rest_service.domain.schemas import RunIn
from rest_service.storage.connection import bind
from rest_service.storage.documents import collection
from rest_service.storage.models import Run, User


@pytest.fixture
async def owner() -> User:
    """A user, on a fresh embedded database bound as the service binds it."""
    await bind(embedded_client()["loadwatch-test-open-runs"])
    return User(id="ann", password_hash="-", created_at=datetime(2026, 1, 1, tzinfo=UTC))


async def test_a_create_between_its_two_writes_keeps_its_slot(owner: User) -> None:
    """One create has taken the last slot and not yet stored its run: another create in
    that moment is refused and stores nothing (taking that slot back let a burst of 150
    creates make 102 runs under a cap of 100)."""
    pending = ObjectId()
    await open_runs.take(owner.id, pending, 1)
    with pytest.raises(Conflict, match="at most 1 running runs"):
        await runs.create_run(owner, RunIn(name="second"), 1)
    assert await collection(Run).count_documents({}) == 0


async def test_a_slot_whose_create_died_before_storing_its_run_is_taken_back(owner: User) -> None:
    """A slot older than the grace with no run (its service stopped between the writes)
    does not hold the cap forever."""
    lost = ObjectId.from_datetime(datetime.now(UTC) - 2 * open_runs.UNBORN_GRACE)
    await open_runs.take(owner.id, lost, 1)
    run = await runs.create_run(owner, RunIn(name="after"), 1)
    assert run.status == "running"


async def test_a_slot_whose_run_ended_without_giving_it_back_is_taken_back(owner: User) -> None:
    """A run that ended while its service could not give the slot back frees it for the
    next create; a running one does not."""
    first = await runs.create_run(owner, RunIn(name="first"), 1)
    with pytest.raises(Conflict):
        await runs.create_run(owner, RunIn(name="second"), 1)
    await collection(Run).update_one({"_id": first.id}, {"$set": {"status": "finished"}})
    second = await runs.create_run(owner, RunIn(name="second"), 1)
    assert second.status == "running"

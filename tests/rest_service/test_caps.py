"""The caps on what a user holds (running runs, API tokens) at the moments between a
create's two writes (its slot, then what holds it), replayed one step at a time on the
embedded database."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from bson import ObjectId

from embedded_mongo import embedded_client
from rest_service.domain import caps, runs, tokens
from rest_service.domain.errors import Conflict
from rest_service.domain.schemas import RunIn
from rest_service.storage.connection import bind
from rest_service.storage.documents import collection
from rest_service.storage.models import ApiToken, OpenRunSlot, Run, TokenSlot, User

NO_CACHE = SimpleNamespace(revoke=lambda key: None)  # no session cache to tell


@pytest.fixture
async def owner() -> User:
    """A user, on a fresh embedded database bound as the service binds it."""
    await bind(embedded_client()["loadwatch-test-caps"])
    return User(id="ann", password_hash="-", created_at=datetime(2026, 1, 1, tzinfo=UTC))


async def taken_long_ago(cap: caps.Cap) -> None:
    """Every slot of ``cap`` as if taken twice the grace ago."""
    then = datetime.now(UTC) - 2 * caps.UNBORN_GRACE
    await collection(cap.slots).update_many({}, {"$set": {"taken_at": then}})


async def test_a_create_between_its_two_writes_keeps_its_slot(owner: User) -> None:
    """One create has taken the last slot and not yet stored its run: another create in
    that moment is refused and stores nothing (taking that slot back let a burst of 150
    creates make 102 runs under a cap of 100)."""
    await caps.take(caps.OPEN_RUNS, owner.id, ObjectId(), 1)
    with pytest.raises(Conflict, match="at most 1 running runs"):
        await runs.create_run(owner, RunIn(name="second"), 1)
    assert await collection(Run).count_documents({}) == 0


async def test_a_slot_whose_create_died_before_storing_its_run_is_taken_back(owner: User) -> None:
    """A slot older than the grace with no run (its service stopped between the writes)
    does not hold the cap forever."""
    await caps.take(caps.OPEN_RUNS, owner.id, ObjectId(), 1)
    await taken_long_ago(caps.OPEN_RUNS)
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
    assert await collection(OpenRunSlot).count_documents({}) == 1


async def test_a_token_being_made_keeps_its_slot_and_a_revoked_one_frees_it(
    owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the cap, a token between its two writes holds its slot; revoking a token frees
    one; an expired token (removed by the database) frees its slot once the grace is past."""
    monkeypatch.setattr(tokens, "MAX_TOKENS_PER_USER", 2)
    made, _ = await tokens.create_token(owner, "one", None, "read")
    await caps.take(caps.TOKENS, owner.id, "a-token-being-made", 2)
    with pytest.raises(Conflict, match="at most 2 tokens"):
        await tokens.create_token(owner, "two", None, "read")
    assert await collection(ApiToken).count_documents({}) == 1

    await caps.give_back(caps.TOKENS, "a-token-being-made")
    await tokens.create_token(owner, "two", None, "read")
    with pytest.raises(Conflict):
        await tokens.create_token(owner, "three", None, "read")
    await tokens.revoke_token(owner, made.token_id, NO_CACHE)  # type: ignore[arg-type]
    three, _ = await tokens.create_token(owner, "three", None, "read")

    await collection(ApiToken).delete_one({"_id": three.id})  # expired
    with pytest.raises(Conflict):
        await tokens.create_token(owner, "four", None, "read")
    await taken_long_ago(caps.TOKENS)
    await tokens.create_token(owner, "four", None, "read")
    assert await collection(TokenSlot).count_documents({}) == 2

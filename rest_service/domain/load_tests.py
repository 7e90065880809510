"""Load tests, the runs that loadkit records into the service: create (a label claimed by
an insert on its own ``_id``, the run numbered by an insert too, so two masters recording
at once never clash on any server), find with ownership, list an owner's runs, the
comparable runs before one, mark spawned, close, delete with everything that hangs on it.

Load tests live in their owner's namespace: labels are unique per owner, and a listing
reads one owner's runs (the caller's; an admin may name another owner)."""

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from rest_service.domain import machine_under_test
from rest_service.domain.errors import Conflict, NotFound
from rest_service.domain.schemas.load_tests import (
    HostCpu,
    LoadTestClose,
    LoadTestIn,
    LoadTestOut,
)
from rest_service.storage.documents import collection, load, stored
from rest_service.storage.load_test_models import (
    LoadTest,
    LoadTestChunk,
    LoadTestComparison,
    LoadTestLabel,
)
from rest_service.storage.models import User

NOT_FOUND = "Load test not found"
MAX_LABEL_TRIES = 1_000  # label, label-2, … label-1000
MAX_ID_TRIES = 100  # numbers taken by others meanwhile
# The fields of a listing: the timeline and the estimates are read on their own routes.
LISTED = {"timeline": 0, "estimates": 0}


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def out(test: LoadTest) -> LoadTestOut:
    return LoadTestOut(
        id=test.id,
        owner=test.owner,
        label=test.label,
        status=test.status,
        started_at=test.started_at,
        started=iso(test.started_at),
        spawned_at=test.spawned_at,
        stopped_at=test.stopped_at,
        users=test.users,
        spawn_rate=test.spawn_rate,
        run_time=test.run_time,
        host=test.host,
        locustfile_hash=test.locustfile_hash,
        pacing=test.pacing,
        candidate_host=test.candidate_host,
        monitor_tag=test.monitor_tag,
        req_per_s=test.req_per_s,
        peak_cpu=test.peak_cpu,
        pacing_changes=len(test.pacing_changes),
        timings=test.timings,
        host_cpu=None if test.host_cpu is None else HostCpu(**test.host_cpu),
        verdict=test.verdict,
    )


def namespace(user: User, owner: str | None) -> str:
    """Whose load tests a request reads: the caller's, or (an admin only) another's."""
    if owner is None or owner == user.id:
        return user.id
    if not user.is_admin:
        raise NotFound("No such owner, or not yours to read")
    return owner


def _visible(user: User) -> dict[str, Any]:
    return {} if user.is_admin else {"owner": user.id}


async def _claim_label(owner: str, label: str) -> str:
    for n in range(1, MAX_LABEL_TRIES + 1):
        candidate = label if n == 1 else f"{label}-{n}"
        try:
            await collection(LoadTestLabel).insert_one({"_id": f"{owner}/{candidate}"})
        except DuplicateKeyError:
            continue
        return candidate
    raise Conflict(f"Labels {label!r} to {label}-{MAX_LABEL_TRIES} are all taken")


async def _insert_numbered(document: dict[str, Any]) -> int:
    runs = collection(LoadTest)
    for _ in range(MAX_ID_TRIES):
        newest = await runs.find({}, {"_id": 1}).sort("_id", -1).limit(1).to_list(None)
        number = int(newest[0]["_id"]) + 1 if newest else 1
        try:
            await runs.insert_one({**document, "_id": number})
        except DuplicateKeyError:  # another master took it since the read
            continue
        return number
    raise Conflict("Too many load tests created at once: try again")


async def create(user: User, data: LoadTestIn) -> LoadTest:
    """A running load test under ``data.label``, or the next free label (label-2, …)."""
    label = await _claim_label(user.id, data.label)
    test = LoadTest(id=0, owner=user.id, label=label, **data.model_dump(exclude={"label"}))
    document = stored(test)
    del document["_id"]
    test.id = await _insert_numbered(document)
    await collection(LoadTestLabel).update_one(
        {"_id": f"{user.id}/{label}"}, {"$set": {"run_id": test.id}}
    )
    return test


async def get(test_id: int, user: User, fields: dict[str, int] | None = None) -> LoadTest:
    raw = await collection(LoadTest).find_one({"_id": test_id, **_visible(user)}, fields)
    test = load(LoadTest, raw)
    if test is None:
        raise NotFound(NOT_FOUND)
    return test


async def listed(
    user: User,
    owner: str | None,
    label: str | None,
    comparable_to: int | None,
    after: int,
    limit: int,
) -> list[LoadTest]:
    """An owner's load tests by number: oldest first after ``after``; or the one
    labelled ``label``; or the closed runs before ``comparable_to`` with its locustfile,
    users, host and pacing, newest first."""
    query: dict[str, Any] = {"owner": namespace(user, owner)}
    order = 1
    if label is not None:
        query["label"] = label
    if comparable_to is not None:
        current = await get(comparable_to, user, LISTED)
        query.update(
            owner=current.owner,
            _id={"$lt": current.id},
            locustfile_hash=current.locustfile_hash,
            users=current.users,
            host=current.host,
            pacing=current.pacing,
            stopped_at={"$ne": None},
        )
        order = -1
    elif after >= 0:
        query["_id"] = {"$gt": after}
    found = collection(LoadTest).find(query, LISTED).sort("_id", order).limit(limit)
    return [LoadTest.model_validate(raw) async for raw in found]


async def owners(user: User) -> list[str]:
    """Whose load tests the caller may read."""
    if not user.is_admin:
        return [user.id]
    return sorted({str(o) for o in await collection(LoadTest).distinct("owner")} | {user.id})


async def _update_running(test_id: int, user: User, changes: dict[str, Any]) -> LoadTest:
    raw = await collection(LoadTest).find_one_and_update(
        {"_id": test_id, "status": "running", **_visible(user)},
        {"$set": changes},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        test = await get(test_id, user, LISTED)
        raise Conflict(f"Load test {test.label!r} is already {test.status}")
    return LoadTest.model_validate(raw)  # type: ignore[no-any-return]


async def spawned(test_id: int, user: User, spawned_at: float) -> LoadTest:
    return await _update_running(test_id, user, {"spawned_at": spawned_at})


async def close(test_id: int, user: User, data: LoadTestClose) -> LoadTest:
    """Close the run with what only its end knows, and the machine under test's CPU over
    its measured window, from the cpu-monitor runs tagged as the run says."""
    test = await get(test_id, user, LISTED)
    host_cpu = None
    if test.monitor_tag is not None:
        since = test.spawned_at if test.spawned_at is not None else test.started_at
        host_cpu = await machine_under_test.host_cpu(
            test.owner, test.monitor_tag, since, data.stopped_at
        )
    return await _update_running(
        test_id,
        user,
        {
            "status": "incomplete" if data.incomplete else "finished",
            "stopped_at": data.stopped_at,
            "req_per_s": data.req_per_s,
            "peak_cpu": data.peak_cpu,
            "pacing_changes": [{"ts": ts, "seconds": s} for ts, s in data.pacing_changes],
            "timeline": {
                "seconds": [second for second, _ in data.timeline],
                "requests": [n for _, n in data.timeline],
            },
            "host_cpu": host_cpu,
        },
    )


async def delete(test_id: int, user: User) -> None:
    """The run, its label, its timings and its comparison."""
    test = await get(test_id, user, LISTED)
    await collection(LoadTest).delete_one({"_id": test.id})
    await collection(LoadTestChunk).delete_many({"run_id": test.id})
    await collection(LoadTestComparison).delete_one({"_id": test.id})
    await collection(LoadTestLabel).delete_one({"_id": f"{test.owner}/{test.label}"})

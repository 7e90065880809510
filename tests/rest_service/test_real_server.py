"""The service on a real wire-protocol server (FerretDB here, or MONGODB_URL): what the
emulation cannot prove. Where FerretDB and MongoDB differ for something the service uses,
the service keeps MongoDB's semantics and a test below names the gap."""

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bson
import httpx
import pytest
from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import DocumentTooLarge

from rest_service import security
from rest_service.domain import sample_reads, samples
from rest_service.domain.errors import Throttled
from rest_service.domain.schemas import SAMPLE_FIELDS, SampleIn
from rest_service.storage.connection import bind
from rest_service.storage.documents import collection
from rest_service.storage.indexes import remove_expired
from rest_service.storage.models import LoginSlot, Run, Session
from tests.conftest import ADMIN
from tests.live import MONGO_SERVER, free_port, real_mongodb, running_mongo_server, running_service

BASE = datetime(2026, 1, 1, tzinfo=UTC)
MAX_BSON_BYTES = 16 * 1024 * 1024


def run_async(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


async def fresh(server: str, name: str) -> tuple[AsyncIOMotorClient, bool]:
    """An empty database bound as the service binds it; whether the server is FerretDB."""
    client = AsyncIOMotorClient(server, tz_aware=True)
    await client.drop_database(name)
    await bind(client[name])
    info = await client.admin.command("buildInfo")
    return client, "ferretdbVersion" in info


def largest_sample(seq: int) -> SampleIn:
    """A sample as large as the API takes: 1,024 per-CPU values and every figure at its
    largest."""
    figures: dict[str, float] = {}
    for name in SAMPLE_FIELDS:
        if name.endswith("_bytes"):
            figures[name] = float(2**53 - 1)
        elif name.endswith("_per_second"):
            figures[name] = 1e15
        else:
            figures[name] = 99.99
    return SampleIn.model_validate(
        {
            "seq": seq,
            "timestamp": (BASE + timedelta(seconds=seq)).isoformat(),
            "cpu_percent": 99.99,
            "per_cpu": [99.99] * 1024,
            **figures,
        }
    )


def test_the_largest_block_stays_under_the_16_mib_limit(real_server: str) -> None:
    """A block of BLOCK samples, each as large as the API takes, is under MongoDB's limit
    on a document, and the real server stores it and gives it back whole."""

    async def scenario() -> None:
        client, _ = await fresh(real_server, "loadwatch-test-largest-block")
        run = Run(name="large", owner="u", started_at=BASE)
        await run.insert()
        batch = [largest_sample(seq) for seq in range(samples.BLOCK)]
        block = samples._new_block(run.id, 0, {s.seq: samples._row(s) for s in batch})
        size = len(bson.encode(block))
        assert size < MAX_BSON_BYTES
        # Written as a client would send them: a first batch creates the block, the others
        # $set their slots into it.
        for start in range(0, samples.BLOCK, 250):
            accepted, _ = await samples.add_samples(
                await Run.get(run.id), batch[start : start + 250]
            )
            assert accepted == 250
        stored = await collection(samples.SampleBlock).find_one({"_id": f"{run.id}:0"})
        assert stored is not None and stored["samples"] == samples.BLOCK
        assert len(bson.encode(stored)) < MAX_BSON_BYTES
        # Pages end at the per_cpu budget (256 samples of 1,024 CPUs) and go on from there.
        pages, after = [], -1
        while after is not None:
            page, after = await sample_reads.sample_page(
                await Run.get(run.id), after, samples.BLOCK
            )
            pages.append(page)
        assert [len(p) for p in pages] == [256, 256, 256, 232]
        assert pages[-1][-1]["seq"] == samples.BLOCK - 1
        assert pages[-1][-1]["per_cpu"] == [99.99] * 1024
        client.close()

    run_async(scenario)


def test_a_document_over_16_mib_is_refused(real_server: str) -> None:
    """What the emulation refuses (embedded_mongo's tests) the real path refuses too."""

    async def scenario() -> None:
        client, _ = await fresh(real_server, "loadwatch-test-size")
        docs = client["loadwatch-test-size"]["docs"]
        with pytest.raises(DocumentTooLarge):
            await docs.insert_one({"_id": "big", "blob": {"values": [1.5] * 1_600_000}})
        assert await docs.count_documents({}) == 0
        client.close()

    run_async(scenario)


def test_ttl_expiry_holds_where_the_server_has_no_ttl_index(real_server: str) -> None:
    """MongoDB removes expired sessions, tokens and login records with TTL indexes.
    FerretDB 1.24 (SQLite) refuses the TTL option (NotImplemented): the service then
    makes the index without it and removes what has expired itself, once a minute as
    MongoDB's TTL monitor does."""

    async def scenario() -> None:
        client, ferretdb = await fresh(real_server, "loadwatch-test-ttl")
        expiries = await bind(client["loadwatch-test-ttl"])
        swept = {(e.model.Settings.name, e.field) for e in expiries}
        if ferretdb:
            assert swept == {
                ("sessions", "expires_at"),
                ("api_tokens", "expires_at"),
                ("login_slots", "expires_at"),
            }
        else:
            assert swept == set()  # MongoDB keeps the TTL indexes
        now = datetime.now(UTC)
        await collection(Session).insert_many(
            [
                {"_id": "old", "username": "u", "expires_at": now - timedelta(seconds=1)},
                {"_id": "live", "username": "u", "expires_at": now + timedelta(hours=1)},
            ]
        )
        await remove_expired(expiries, now)
        left = {d["_id"] async for d in collection(Session).find({})}
        assert left == ({"live"} if ferretdb else {"old", "live"})
        client.close()

    run_async(scenario)


def test_the_throttle_holds_under_parallel_attempts(real_server: str) -> None:
    """FerretDB does not isolate concurrent conditional updates of one document; the
    throttle's slots are inserts on a unique _id, which every wire server makes atomic.
    40 attempts at once on one key: never more than 5 hold a slot together, at most 5
    passwords are checked, and a 41st is refused until a failure leaves the window."""

    async def scenario() -> None:
        client, _ = await fresh(real_server, "loadwatch-test-throttle")
        key, now = "user:u|127.0.0.1", datetime.now(UTC)
        holding: set[str] = set()
        most = 0

        async def guess() -> str:
            nonlocal most
            try:
                attempt = await security.reserve(key, 5, now)
            except Throttled:
                return "refused"
            holding.add(attempt.slot)
            most = max(most, len(holding))
            await asyncio.sleep(0.05)  # the password check
            holding.discard(attempt.slot)
            await security.failed(attempt)
            return "checked"

        answers = await asyncio.gather(*(guess() for _ in range(40)))
        assert answers.count("checked") == 5 and most <= 5
        with pytest.raises(Throttled):
            await security.reserve(key, 5, datetime.now(UTC))
        # Out of the window, the failures free their slots.
        gone = datetime.now(UTC) - timedelta(seconds=1)
        await collection(LoginSlot).update_many({"key": key}, {"$set": {"expires_at": gone}})
        await security.succeeded(await security.reserve(key, 5, datetime.now(UTC)))
        assert await collection(LoginSlot).count_documents({"key": key}) == 0
        client.close()

    run_async(scenario)


@contextmanager
def database_server(data: Path, port: int) -> Iterator[str]:
    """The user's MONGODB_URL, or FerretDB on ``port`` with its files in ``data`` (the same
    port and files each time, so that it can be restarted)."""
    url = os.environ.get("MONGODB_URL", "")
    if url.startswith("mongodb"):
        yield url
    elif MONGO_SERVER.exists():
        with running_mongo_server(data, port) as own:
            yield own
    else:
        with real_mongodb(data) as none:  # skips, or fails under CI, saying why
            yield none


def test_a_finished_run_survives_a_restart(tmp_path: Path) -> None:
    """A finished run with its samples and events, and an API token, are there after the
    service and its database server restart."""
    data, port = tmp_path / "data", free_port()
    env = {
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        "MONGODB_DB": f"loadwatch-test-restart-{ObjectId()}",
    }
    login = {"username": ADMIN[0], "password": ADMIN[1]}
    with database_server(data, port) as url, running_service({**env, "MONGODB_URL": url}) as one:
        with httpx.Client(base_url=one.url, timeout=30) as api:
            assert api.post("/auth/login", json=login).status_code == 200
            token = api.post("/auth/tokens", json={"name": "restart", "scope": "write"}).json()[
                "token"
            ]
            run = api.post("/runs", json={"name": "survivor", "threshold": 50}).json()
            rows = [
                {
                    "seq": seq,
                    "timestamp": (BASE + timedelta(seconds=seq)).isoformat(),
                    "cpu_percent": float(seq % 90),
                }
                for seq in range(1_500)
            ]
            posted = api.post(f"/runs/{run['id']}/samples", json={"samples": rows})
            assert posted.json()["accepted"] == 1_500
            note = {"category": "note", "name": "note", "timestamp": BASE.isoformat()}
            events = {"events": [{**note, "data": {"text": "kept"}}]}
            assert api.post(f"/runs/{run['id']}/events", json=events).status_code == 201
            assert api.patch(f"/runs/{run['id']}", json={"status": "finished"}).status_code == 200
            before = api.get(f"/runs/{run['id']}").json()
            csv_before = api.get(f"/runs/{run['id']}/samples.csv").text

    with database_server(data, port) as url, running_service({**env, "MONGODB_URL": url}) as two:
        bearer = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=two.url, timeout=30, headers=bearer) as api:
            after = api.get(f"/runs/{run['id']}").json()
            assert after["status"] == "finished" and after == before
            assert api.get(f"/runs/{run['id']}/samples.csv").text == csv_before
            kept = api.get(f"/runs/{run['id']}/events").json()["items"]
            assert [e["data"]["text"] for e in kept] == ["kept"]


def _nested_arrays(value: object) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, list) or _nested_arrays(item) for item in value)
    if isinstance(value, dict):
        return any(_nested_arrays(item) for item in value.values())
    return False


def test_the_load_tests_use_what_every_wire_server_stores(real_server: str) -> None:
    """FerretDB 1.24 refuses arrays within arrays, where MongoDB stores them. The load
    tests' documents hold none (a chunk's endpoints are objects, a run's timeline two
    columns, its pacing changes objects), and their updates ask for no projection (FerretDB
    does not implement one in findAndModify): recorded, closed and read back, the same on
    both servers."""
    import base64
    import zlib

    from pymongo.errors import OperationFailure

    from rest_service.domain import load_test_chunks, load_test_results, load_tests
    from rest_service.domain.schemas.load_tests import ChunkIn, LoadTestClose, LoadTestIn
    from rest_service.storage.load_test_models import LoadTest, LoadTestChunk
    from rest_service.storage.models import User

    async def scenario() -> None:
        client, ferretdb = await fresh(real_server, "loadwatch-test-gaps")
        try:
            await client["loadwatch-test-gaps"]["probe"].insert_one({"_id": 1, "x": [[1, 2]]})
            nested_refused = False
        except OperationFailure:
            nested_refused = True
        assert nested_refused == ferretdb
        user = User(id="team", password_hash="-", created_at=BASE)
        test = await load_tests.create(user, LoadTestIn(label="nightly", started_at=1.0))
        raw = bytes(15)[:14] + b"\x01"  # one timing: start +0, 0 µs, endpoint 0, success
        body = ChunkIn(
            chunk=0,
            count=1,
            t0_us=1_000_000,
            endpoints=[("GET", "/")],
            data=base64.b64encode(zlib.compress(raw)).decode(),
        )
        assert await load_test_chunks.add(test, body) == (1, False)
        close = LoadTestClose(stopped_at=2.0, pacing_changes=[(1.5, 2.0)], timeline=[(1.0, 1)])
        closed = await load_tests.close(test.id, user, close)
        assert closed.status == "finished" and closed.timings == 1
        assert (await load_test_results.timeline(test.id, user))[0].requests == 1
        for model in (LoadTest, LoadTestChunk):
            async for document in collection(model).find({}):
                assert not _nested_arrays(document), document
        client.close()

    run_async(scenario)

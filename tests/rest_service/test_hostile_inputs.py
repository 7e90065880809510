"""Inputs and loads that once broke the service: each was a 500, a bypass or a lock-out."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bson import ObjectId
from fastapi import FastAPI

from rest_service import security
from rest_service.security import MAX_ADDRESS_FAILURES, MAX_FAILURES, failure_delay
from tests.conftest import ADMIN, login

NOW = datetime.now(UTC).isoformat()


@pytest.fixture(autouse=True)
def no_failure_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The growing answer delay of failures is tested on its own; here it would only wait."""
    monkeypatch.setattr(security, "FIRST_DELAY_SECONDS", 0.0)


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client whose requests the app sees as coming from ``address`` (the ASGI scope's
    client field; nothing is sent anywhere)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def a_run(client: httpx.AsyncClient) -> str:
    response = await client.post("/runs", json={"name": "t"})
    assert response.status_code == 201
    return str(response.json()["id"])


@pytest.mark.parametrize(
    "body",
    [
        b'{"name":"t","threshold":NaN}',
        b'{"name":"t","threshold":Infinity}',
        b'{"name":"t","threshold":1e999}',
        b'{"name":"a\\ud800b"}',
        b'{"name":"t","threshold":-Infinity,"tags":["\\udfff"]}',
    ],
)
async def test_values_json_cannot_carry_are_a_422_not_a_500(
    admin_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await admin_client.post(
        "/runs", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert (await admin_client.get("/runs")).json()["items"] == []  # nothing stored


async def test_a_sample_with_nan_or_a_surrogate_is_a_422(admin_client: httpx.AsyncClient) -> None:
    run = await a_run(admin_client)
    for value in ("NaN", "Infinity", "1e999", '"\\ud800"'):
        body = f'{{"samples":[{{"seq":1,"timestamp":"{NOW}","cpu_percent":{value}}}]}}'
        response = await admin_client.post(
            f"/runs/{run}/samples", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (value, response.text)


@pytest.mark.parametrize(
    "sample",
    [
        {"cpu_percent": True},
        {"cpu_percent": "50"},
        {"cpu_percent": 50, "per_cpu": [False]},
    ],
)
async def test_wrong_types_are_refused_not_coerced(
    admin_client: httpx.AsyncClient, sample: dict[str, Any]
) -> None:
    run = await a_run(admin_client)
    body = {"samples": [{"seq": 1, "timestamp": NOW, **sample}]}
    response = await admin_client.post(f"/runs/{run}/samples", json=body)
    assert response.status_code == 422, response.text
    threshold = await admin_client.post("/runs", json={"name": "t", "threshold": False})
    assert threshold.status_code == 422


async def test_an_integer_beyond_64_bits_in_an_event_is_a_422(
    admin_client: httpx.AsyncClient,
) -> None:
    run = await a_run(admin_client)
    event = {
        "category": "loadtest",
        "name": "phase",
        "timestamp": NOW,
        "data": {"phase": "start", "users": 2**63},
    }
    response = await admin_client.post(f"/runs/{run}/events", json={"events": [event]})
    assert response.status_code == 422, response.text


async def test_a_rejected_event_that_could_not_be_stored_raw_is_kept_as_text(
    admin_client: httpx.AsyncClient,
) -> None:
    run = await a_run(admin_client)
    nested: Any = "deep"
    for _ in range(150):  # deeper than MongoDB's 100 levels
        nested = [nested]
    bad_events = [
        [2**64],  # beyond 64 bits
        {"category": "x", "name": "y", "timestamp": NOW, "data": {"a\u0000b": 1}},  # NUL key
        {"category": "x", "name": "y", "timestamp": NOW, "data": {"n": nested}},
    ]
    # Enough batches to wrap the ring of kept rejections, then read it all back.
    for round_ in range(340):
        body = json.dumps({"events": bad_events}).encode()
        response = await admin_client.post(
            f"/runs/{run}/events", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (round_, response.text)
    kept = await admin_client.get("/events/rejected", params={"limit": 1000})
    assert kept.status_code == 200, kept.text
    items = kept.json()["items"]
    assert len(items) == 1000
    assert all(isinstance(item["event"], str) and len(item["event"]) <= 2001 for item in items)
    assert any("18446744073709551616" in item["event"] for item in items)
    # A lone surrogate makes the body itself invalid JSON: 422 for the body.
    note = {"category": "note", "name": "note", "timestamp": NOW, "data": {"text": "a\ud800"}}
    response = await admin_client.post(
        f"/runs/{run}/events",
        content=json.dumps({"events": [note]}).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


async def test_event_bodies_must_be_json(admin_client: httpx.AsyncClient) -> None:
    run = await a_run(admin_client)
    note = {"category": "note", "name": "note", "timestamp": NOW, "data": {"text": "hi"}}
    body = json.dumps({"events": [note]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = await admin_client.post(
            f"/runs/{run}/events", content=body, headers={"content-type": content_type}
        )
        assert response.status_code == 415, content_type
        assert "application/json" in response.json()["detail"]
    ok = await admin_client.post(
        f"/runs/{run}/events",
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201
    samples = await admin_client.post(
        f"/runs/{run}/samples", content="{}", headers={"content-type": "text/plain"}
    )
    assert samples.status_code == 415


async def test_a_finished_run_takes_notes_but_no_measurements(
    admin_client: httpx.AsyncClient,
) -> None:
    run = await a_run(admin_client)
    assert (await admin_client.patch(f"/runs/{run}", json={"status": "finished"})).is_success
    note = {"category": "note", "name": "note", "timestamp": NOW, "data": {"text": "post-mortem"}}
    deploy = {
        "category": "deploy",
        "name": "deployed",
        "timestamp": NOW,
        "data": {"version": "1.2", "service": "api"},
    }
    crossing = {
        "category": "monitor",
        "name": "threshold_exceeded",
        "timestamp": NOW,
        "data": {"cpu_percent": 91, "threshold": 80},
    }
    assert (
        await admin_client.post(f"/runs/{run}/events", json={"events": [note]})
    ).status_code == 201
    added = await admin_client.post(f"/runs/{run}/events", json={"events": [deploy]})
    assert added.status_code == 201
    refused = await admin_client.post(f"/runs/{run}/events", json={"events": [note, crossing]})
    assert refused.status_code == 409
    assert "running" in refused.json()["detail"]
    events = (await admin_client.get(f"/runs/{run}/events")).json()["items"]
    assert sorted(e["category"] for e in events) == ["deploy", "note"]  # refused batch: none
    assert (await admin_client.get(f"/runs/{run}")).json()["event_count"] == 2


async def test_parallel_guesses_get_no_more_password_checks_than_the_limit(
    app: FastAPI, bcrypt_checks: list[bytes]
) -> None:
    checks = bcrypt_checks
    async with client_from(app, "127.0.0.9") as attacker:
        guesses = [login(attacker, ADMIN[0], f"guess-{i}") for i in range(200)]
        answers = [r.status_code for r in await asyncio.gather(*guesses)]
        assert answers.count(401) <= MAX_FAILURES
        assert answers.count(429) >= 200 - MAX_FAILURES
        assert len(checks) <= MAX_FAILURES
        # The right password, from the attacker's address, is throttled too.
        assert (await login(attacker, *ADMIN)).status_code == 429
    # The real user, from elsewhere, is not locked out.
    async with client_from(app, "127.0.0.10") as owner:
        assert (await login(owner, *ADMIN)).status_code == 200


async def test_fifty_simultaneous_correct_logins_all_succeed(
    app: FastAPI, bcrypt_checks: list[bytes]
) -> None:
    """How many Locust suites log their users in: one account, one address, all at once.
    Beyond the limit they wait their turn; none is refused."""
    async with client_from(app, "127.0.0.13") as suite:
        logins = [login(suite, *ADMIN) for _ in range(50)]
        answers = [r.status_code for r in await asyncio.gather(*logins)]
    assert answers == [200] * 50
    assert len(bcrypt_checks) == 50


async def test_the_right_password_among_parallel_wrong_ones_is_still_bounded(
    app: FastAPI,
) -> None:
    async with client_from(app, "127.0.0.11") as attacker:
        tries = [login(attacker, ADMIN[0], f"wrong-{i}") for i in range(39)]
        tries.insert(20, login(attacker, *ADMIN))
        answers = [r.status_code for r in await asyncio.gather(*tries)]
    checked = [a for a in answers if a != 429]
    assert len(checked) <= MAX_FAILURES + 1  # the limit, and the success that resets it


async def test_one_address_cannot_spray_passwords_over_many_accounts(
    admin_client: httpx.AsyncClient, app: FastAPI
) -> None:
    async with client_from(app, "127.0.0.12") as sprayer:
        answers = []
        for i in range(MAX_ADDRESS_FAILURES + 5):
            answers.append((await login(sprayer, f"user-{i}", "password-1")).status_code)
    assert answers[:MAX_ADDRESS_FAILURES] == [401] * MAX_ADDRESS_FAILURES
    assert set(answers[MAX_ADDRESS_FAILURES:]) == {429}


def test_each_failure_is_answered_later_than_the_one_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(security, "FIRST_DELAY_SECONDS", 0.1)
    delays = [failure_delay(n) for n in range(1, 8)]
    assert delays == sorted(delays) and delays[0] > 0
    assert delays[1] == 2 * delays[0]
    assert max(delays) <= security.MAX_DELAY_SECONDS


async def test_failures_are_answered_with_a_growing_delay(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(security, "FIRST_DELAY_SECONDS", 0.2)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(3):
        started = loop.time()
        assert (await login(client, ADMIN[0], "wrong-password")).status_code == 401
        times.append(loop.time() - started)
    assert times[0] >= 0.2 and times[1] >= 0.4 and times[2] >= 0.8


async def test_a_silent_run_is_closed_as_abandoned(admin_client: httpx.AsyncClient) -> None:
    from datetime import timedelta

    from rest_service.domain.runs import abandon_silent_runs
    from rest_service.storage.models import Run

    silent, alive = await a_run(admin_client), await a_run(admin_client)
    sample = {"seq": 0, "timestamp": NOW, "cpu_percent": 5.0}
    for run in (silent, alive):
        body = {"samples": [sample]}
        assert (await admin_client.post(f"/runs/{run}/samples", json=body)).status_code == 201
    long_ago = datetime.now(UTC) - timedelta(minutes=20)
    await Run.get_motor_collection().update_one(
        {"_id": ObjectId(silent)}, {"$set": {"last_seen_at": long_ago}}
    )
    assert await abandon_silent_runs(timedelta(minutes=15)) == 1
    closed = (await admin_client.get(f"/runs/{silent}")).json()
    assert closed["status"] == "abandoned"
    assert closed["ended_at"].startswith(long_ago.isoformat()[:19])
    assert (await admin_client.get(f"/runs/{alive}")).json()["status"] == "running"
    late = await admin_client.post(
        f"/runs/{silent}/samples", json={"samples": [{**sample, "seq": 1}]}
    )
    assert late.status_code == 409 and "abandoned" in late.json()["detail"]
    assert (await admin_client.get("/runs", params={"status": "abandoned"})).json()["items"]
    assert await abandon_silent_runs(timedelta(minutes=15)) == 0  # once only


async def test_numbers_are_not_timestamps_and_bools_are_not_numbers(
    admin_client: httpx.AsyncClient,
) -> None:
    run = await a_run(admin_client)
    for bound in ("0.5", "1700000000"):
        response = await admin_client.get(f"/runs/{run}/events", params={"until": bound})
        assert response.status_code == 422, bound
    old = await admin_client.get(f"/runs/{run}/events", params={"since": "1900-01-01T00:00:00Z"})
    assert old.status_code == 200  # a filter's bound may lie before 1970
    digits = {"samples": [{"seq": 0, "timestamp": "1700000000", "cpu_percent": 5}]}
    assert (await admin_client.post(f"/runs/{run}/samples", json=digits)).status_code == 422
    user = {"username": "zero", "password": "password-1", "is_admin": 0}
    assert (await admin_client.post("/users", json=user)).status_code == 422


async def test_405_lists_every_method_of_the_resource(admin_client: httpx.AsyncClient) -> None:
    run = await a_run(admin_client)
    response = await admin_client.put(f"/runs/{run}", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    assert "detail" in response.json()
    events = await admin_client.delete(f"/runs/{run}/events")
    assert events.headers["allow"] == "GET, POST"

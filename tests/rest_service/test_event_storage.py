"""Run events beyond HTTP: the rejection metric, the ring of rejections, cascade delete."""

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from rest_service.domain.events import REJECTED_CAPACITY
from rest_service.storage.models import Event, RejectedEvent
from tests.conftest import login
from tests.metrics_text import value


def note(text: str) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat()
    return {"category": "note", "name": "note", "timestamp": stamp, "data": {"text": text}}


async def new_run(client: httpx.AsyncClient) -> str:
    return str((await client.post("/runs", json={"name": "events"})).json()["id"])


async def test_rejections_are_counted_with_bounded_labels(admin_client: httpx.AsyncClient) -> None:
    run_id = await new_run(admin_client)
    before = (await admin_client.get("/metrics")).text
    bad = [
        {**note("x"), "category": f"random-{i}"}
        for i in range(3)  # unknown categories
    ] + [{**note("x"), "data": {"text": ""}}]
    response = await admin_client.post(f"/runs/{run_id}/events", json={"events": bad})
    assert response.status_code == 422
    after = (await admin_client.get("/metrics")).text

    def delta(**labels: str) -> float:
        return value(after, "loadwatch_events_rejected_total", **labels) - value(
            before, "loadwatch_events_rejected_total", **labels
        )

    assert delta(category="unknown", reason="unknown_kind") == 3
    assert delta(category="note", reason="invalid_data") == 1
    assert "random-0" not in after


async def test_rejected_events_are_capped(admin_client: httpx.AsyncClient) -> None:
    run_id = await new_run(admin_client)
    for batch in range(3):
        bad = [{**note(f"{batch}-{i}"), "name": "unknown"} for i in range(500)]
        assert (
            await admin_client.post(f"/runs/{run_id}/events", json={"events": bad})
        ).status_code == 422
    assert await RejectedEvent.find_all().count() == REJECTED_CAPACITY
    kept = (await admin_client.get("/events/rejected", params={"limit": 1000})).json()["items"]
    assert len(kept) == REJECTED_CAPACITY
    # Kept as the event's JSON text.
    assert json.loads(kept[0]["event"])["data"]["text"] == "2-499"  # newest first
    assert json.loads(kept[-1]["event"])["data"]["text"] == "1-0"  # the oldest 500 overwritten


async def test_one_users_rejections_never_push_out_anothers(
    app: FastAPI, admin_client: httpx.AsyncClient
) -> None:
    mine = await new_run(admin_client)
    bad = {**note("the admin's"), "name": "unknown"}
    assert (
        await admin_client.post(f"/runs/{mine}/events", json={"events": [bad]})
    ).status_code == 422
    await admin_client.post("/users", json={"username": "flooder", "password": "flooder-pass-1"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as flooder:
        await login(flooder, "flooder", "flooder-pass-1")
        theirs = await new_run(flooder)
        flood = [{**note(f"f-{i}"), "name": "unknown"} for i in range(REJECTED_CAPACITY)]
        for _ in range(2):
            answer = await flooder.post(f"/runs/{theirs}/events", json={"events": flood})
            assert answer.status_code == 422
    kept = (await admin_client.get("/events/rejected", params={"limit": 1000})).json()["items"]
    assert len(kept) == REJECTED_CAPACITY  # the newest first: all the flooder's
    admins = await admin_client.get("/events/rejected", params={"username": "admin"})
    (only,) = admins.json()["items"]
    assert json.loads(only["event"])["data"]["text"] == "the admin's"
    assert await RejectedEvent.find_all().count() == REJECTED_CAPACITY + 1


async def test_delete_cascades_to_stored_events(admin_client: httpx.AsyncClient) -> None:
    keep, drop = await new_run(admin_client), await new_run(admin_client)
    for run_id in (keep, drop):
        response = await admin_client.post(
            f"/runs/{run_id}/events", json={"events": [note("a"), note("b")]}
        )
        assert response.status_code == 201
    assert await Event.find_all().count() == 4
    assert (await admin_client.delete(f"/runs/{drop}")).status_code == 204
    remaining = await Event.find_all().to_list()
    assert len(remaining) == 2 and {str(e.run_id) for e in remaining} == {keep}

import json
from collections.abc import Callable
from typing import Any

import httpx
from payloads import timestamp, unique


def event(category: str, name: str, data: dict[str, Any], at: str | None = None) -> dict[str, Any]:
    return {"category": category, "name": name, "timestamp": at or timestamp(-60), "data": data}


def valid_events() -> list[dict[str, Any]]:
    return [
        event("monitor", "threshold_exceeded", {"cpu_percent": 91.5, "threshold": 80}),
        event(
            "monitor",
            "threshold_cleared",
            {"cpu_percent": 40, "threshold": 80, "seconds_above": 12.5},
        ),
        event("deploy", "deployed", {"version": "1.4.2", "service": "api"}),
        event("note", "note", {"text": "x" * 2000}),
        event("loadtest", "phase", {"phase": "spawned", "users": 50}),
    ]


def all_events(client: httpx.Client, run_id: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/runs/{run_id}/events", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_every_kind_is_accepted_and_counted(user: httpx.Client, run: dict[str, Any]) -> None:
    response = user.post(f"/runs/{run['id']}/events", json={"events": valid_events()})
    assert response.status_code == 201
    assert response.json() == {"accepted": 5}
    stored = all_events(user, run["id"])
    assert {(e["category"], e["name"]) for e in stored} == {
        (e["category"], e["name"]) for e in valid_events()
    }
    assert user.get(f"/runs/{run['id']}").json()["event_count"] == 5


def test_events_come_back_in_time_order_whatever_the_arrival_order(
    user: httpx.Client, run: dict[str, Any]
) -> None:
    path = f"/runs/{run['id']}/events"
    stamps = [timestamp(-s) for s in (30, 10, 50, 20, 40)]
    for at in stamps:  # one event per request, from "several clients", out of order
        body = {"events": [event("note", "note", {"text": at}, at)]}
        assert user.post(path, json=body).status_code == 201
    tied = timestamp(-25)
    ties = [event("note", "note", {"text": f"tie {i}"}, tied) for i in range(4)]
    assert user.post(path, json={"events": ties}).status_code == 201
    first = all_events(user, run["id"], limit=2)
    assert first == all_events(user, run["id"], limit=3)  # a stable order across pages
    times = [e["timestamp"] for e in first]
    assert times == sorted(times) and len(first) == 9
    assert len({e["id"] for e in first}) == 9


def test_paging_and_filters(user: httpx.Client, run: dict[str, Any]) -> None:
    path = f"/runs/{run['id']}/events"
    notes = [event("note", "note", {"text": f"n{i}"}, timestamp(-100 + i)) for i in range(25)]
    deploys = [
        event(
            "deploy", "deployed", {"version": f"v{i}", "service": "api"}, timestamp(-100 + i + 0.5)
        )
        for i in range(5)
    ]
    assert user.post(path, json={"events": notes + deploys}).status_code == 201
    everything = all_events(user, run["id"], limit=7)
    assert len(everything) == 30
    only_deploys = all_events(user, run["id"], category="deploy")
    assert [e["data"]["version"] for e in only_deploys] == [f"v{i}" for i in range(5)]
    assert all_events(user, run["id"], category="note", name="deployed") == []
    since, until = notes[10]["timestamp"], notes[20]["timestamp"]
    window = all_events(user, run["id"], category="note", since=since, until=until)
    assert [e["data"]["text"] for e in window] == [f"n{i}" for i in range(10, 20)]
    for bad in (
        {"since": "yesterday"},
        {"until": "2026-01-01T00:00:00"},
        {"limit": 0},
        {"limit": 1001},
        {"cursor": "garbage!"},
    ):
        assert user.get(path, params=bad).status_code == 422, bad


def test_a_retried_batch_is_stored_once(user: httpx.Client, run: dict[str, Any]) -> None:
    path = f"/runs/{run['id']}/events"
    batch = {"events": valid_events()}
    assert user.post(path, json=batch).json() == {"accepted": 5}
    assert user.post(path, json=batch).json() == {"accepted": 5}
    assert len(all_events(user, run["id"])) == 5
    assert user.get(f"/runs/{run['id']}").json()["event_count"] == 5


def test_every_rejection_path_and_nothing_of_the_batch_is_stored(
    user: httpx.Client, admin: httpx.Client, run: dict[str, Any]
) -> None:
    path = f"/runs/{run['id']}/events"
    marker = unique("bad")
    bad_events = [
        (event("nope", "nothing", {"text": marker}), "unknown_kind"),
        (event("note", "shout", {"text": marker}), "unknown_kind"),
        (event("note", "note", {"text": "x" * 2001}), "invalid_data"),
        (event("note", "note", {"text": marker, "extra": 1}), "invalid_data"),
        (event("loadtest", "phase", {"phase": "middle", "users": 1}), "invalid_data"),
        (
            event("monitor", "threshold_exceeded", {"cpu_percent": 101, "threshold": 80}),
            "invalid_data",
        ),
        (event("deploy", "deployed", {"version": marker}), "invalid_data"),
        (event("note", "note", {"text": marker}, timestamp(+60)), "future_timestamp"),
        (event("note", "note", {"text": marker}, "2026-01-01T00:00:00"), "malformed"),
        ({"name": "note", "timestamp": timestamp(), "data": {"text": marker}}, "malformed"),
        ("not an object", "malformed"),
    ]
    for bad, reason in bad_events:
        good = event("note", "note", {"text": "fine"})
        response = user.post(path, json={"events": [good, bad]})
        assert response.status_code == 422, bad
        (problem,) = response.json()["detail"]
        assert problem["index"] == 1 and problem["reason"] == reason, (bad, problem)
        assert problem["msg"]
    assert all_events(user, run["id"]) == []
    assert user.get(f"/runs/{run['id']}").json()["event_count"] == 0
    assert user.post(path, json={"events": []}).status_code == 422
    assert user.post(path, json={"events": [valid_events()[0]] * 1001}).status_code == 422

    # The operator sees what was sent and why it was refused.
    assert user.get("/events/rejected").status_code == 403
    kept = admin.get("/events/rejected", params={"limit": 1000}).json()["items"]
    mine = [r for r in kept if r["run_id"] == run["id"]]
    assert len(mine) == len(bad_events)
    assert [r["reason"] for r in mine] == [reason for _, reason in reversed(bad_events)]
    assert mine[-1]["category"] == "unknown" and json.loads(mine[-1]["event"])["category"] == "nope"
    assert all(r["username"] == user.get("/auth/me").json()["username"] for r in mine)


def test_a_body_that_is_no_batch_gets_422_in_the_usual_form(
    user: httpx.Client, run: dict[str, Any]
) -> None:
    path = f"/runs/{run['id']}/events"
    for body, field in (
        (b"{not json", None),
        (b'{"evnts": []}', "events"),
        (b'{"events": {"category": "note"}}', "events"),
        (b'[{"category": "note"}]', None),
    ):
        response = user.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, body
        problems = response.json()["detail"]
        assert all(p["loc"][0] == "body" and p["msg"] and p["type"] for p in problems), problems
        if field is not None:
            assert any(field in p["loc"] for p in problems), problems
    assert user.get(f"/runs/{run['id']}").json()["event_count"] == 0


def test_other_users_cannot_see_or_write_events(
    make_user: Callable[..., httpx.Client], admin: httpx.Client
) -> None:
    alice, bob = make_user(), make_user()
    run = alice.post("/runs", json={"name": unique("ev")}).json()
    path = f"/runs/{run['id']}/events"
    assert alice.post(path, json={"events": valid_events()}).status_code == 201
    assert bob.get(path).status_code == 404
    assert bob.post(path, json={"events": valid_events()}).status_code == 404
    # A bad batch to a run that isn't yours says "not found", not what is wrong with it.
    bad = [event("note", "note", {"text": "x" * 2001})]
    assert bob.post(path, json={"events": bad}).status_code == 404
    assert bob.post("/runs/not-an-id/events", json={"events": valid_events()}).status_code == 404
    assert alice.get(f"/runs/{run['id']}").json()["event_count"] == 5
    assert len(all_events(admin, run["id"])) == 5
    assert bob.get("/runs/000000000000000000000000/events").status_code == 404


def test_deleting_a_run_deletes_its_events(user: httpx.Client, run: dict[str, Any]) -> None:
    path = f"/runs/{run['id']}/events"
    assert user.post(path, json={"events": valid_events()}).status_code == 201
    assert user.delete(f"/runs/{run['id']}").status_code == 204
    assert user.get(path).status_code == 404

"""/metrics after a known sequence of requests: exact counts, labels and cache figures."""

from datetime import UTC, datetime

import httpx
import pytest

from rest_service.storage.models import SampleBlock, Session
from tests.conftest import ADMIN, login
from tests.metrics_text import series, value


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def delta(before: str, after: str, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def sample(seq: int, cpu: float) -> dict[str, object]:
    return {"seq": seq, "timestamp": datetime.now(UTC).isoformat(), "cpu_percent": cpu}


async def test_requests_are_counted_by_route_template_and_status_class(
    admin_client: httpx.AsyncClient,
) -> None:
    before = await scrape(admin_client)
    run = (await admin_client.post("/runs", json={"name": "m"})).json()
    for i in range(3):
        await admin_client.post(f"/runs/{run['id']}/samples", json={"samples": [sample(i, 5)]})
    await admin_client.get("/runs/not-an-id/samples")
    await admin_client.get("/no/such/path")
    await admin_client.get("/no/other/path")
    after = await scrape(admin_client)

    handler = "/runs/{id}/samples"
    assert (
        delta(before, after, "http_requests_total", method="POST", handler=handler, status="2xx")
        == 3
    )
    assert (
        delta(before, after, "http_requests_total", method="GET", handler=handler, status="4xx")
        == 1
    )
    assert (
        delta(before, after, "http_requests_total", method="POST", handler="/runs", status="2xx")
        == 1
    )
    assert (
        delta(before, after, "http_requests_total", method="GET", handler="none", status="4xx") == 2
    )
    assert (
        delta(before, after, "http_request_duration_seconds_count", method="POST", handler=handler)
        == 3
    )
    # One scrape was in flight while the second one was rendered.
    assert value(after, "http_requests_inprogress") == 1
    # Raw paths never become labels.
    handlers = {labels.get("handler") for labels in series(after, "http_requests_total")}
    assert not any(h and ("not-an-id" in h or run["id"] in h) for h in handlers)
    buckets = {labels["le"] for labels in series(after, "http_request_duration_seconds_bucket")}
    assert {"0.001", "0.5", "10.0", "+Inf"} <= buckets


async def test_logins_by_result(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    await login(client, *ADMIN)
    for _ in range(5):
        await login(client, ADMIN[0], "wrong-password")
    await login(client, *ADMIN)  # throttled now
    after = await scrape(client)
    assert delta(before, after, "loadwatch_auth_logins_total", result="success") == 1
    assert delta(before, after, "loadwatch_auth_logins_total", result="failure") == 5
    assert delta(before, after, "loadwatch_auth_logins_total", result="throttled") == 1


async def test_samples_runs_and_live_cpu(admin_client: httpx.AsyncClient) -> None:
    before = await scrape(admin_client)
    run = (
        await admin_client.post("/runs", json={"name": "a", "host": "web-1", "threshold": 70})
    ).json()
    other = (await admin_client.post("/runs", json={"name": "b"})).json()
    path = f"/runs/{run['id']}/samples"
    await admin_client.post(path, json={"samples": [sample(0, 10), sample(2, 30), sample(1, 20)]})
    await admin_client.post(path, json={"samples": [sample(1, 20), sample(0, 99)]})  # retries
    during = await scrape(admin_client)

    assert delta(before, during, "loadwatch_samples_ingested_total") == 3
    assert delta(before, during, "loadwatch_samples_duplicates_total") == 2
    assert value(during, "loadwatch_test_runs_active") == 2
    # The latest sample by seq, not by arrival; a run with no sample has no series.
    labels = {"run_id": run["id"], "host": "web-1"}
    assert value(during, "loadwatch_cpu_usage_percent", **labels) == 30
    assert value(during, "loadwatch_test_run_threshold_percent", **labels) == 70
    assert [s["run_id"] for s in series(during, "loadwatch_cpu_usage_percent")] == [run["id"]]

    await admin_client.patch(f"/runs/{run['id']}", json={"status": "finished"})
    await admin_client.patch(f"/runs/{other['id']}", json={"status": "aborted"})
    after = await scrape(admin_client)
    assert series(after, "loadwatch_cpu_usage_percent") == []
    assert series(after, "loadwatch_test_run_threshold_percent") == []
    assert value(after, "loadwatch_test_runs_active") == 0
    assert delta(before, after, "loadwatch_test_runs_total", status="finished") == 1
    assert delta(before, after, "loadwatch_test_runs_total", status="aborted") == 1


async def test_default_process_metrics_are_there(client: httpx.AsyncClient) -> None:
    text = await scrape(client)
    assert value(text, "process_resident_memory_bytes") > 0
    assert series(text, "python_info")


async def test_a_session_hit_skips_the_database(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await login(client, *ADMIN)
    before = await scrape(client)
    assert (await client.get("/auth/me")).status_code == 200  # miss: read from the database

    async def no_database(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the session was read from the database")

    monkeypatch.setattr(Session, "get", no_database)
    for _ in range(3):
        assert (await client.get("/auth/me")).status_code == 200
    after = await scrape(client)
    assert delta(before, after, "loadwatch_cache_misses_total", cache="sessions") == 1
    assert delta(before, after, "loadwatch_cache_hits_total", cache="sessions") == 3
    assert value(after, "loadwatch_cache_items", cache="sessions") == 1

    # Logout drops it: the same cookie is refused at once, without waiting for the TTL.
    token = client.cookies["loadwatch_session"]
    monkeypatch.undo()
    assert (await client.post("/auth/logout")).status_code == 204
    client.cookies.set("loadwatch_session", token)
    assert (await client.get("/auth/me")).status_code == 401


async def test_a_finished_runs_summary_is_served_from_the_cache(
    admin_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = (await admin_client.post("/runs", json={"name": "s", "threshold": 50})).json()
    path = f"/runs/{run['id']}"
    await admin_client.post(f"{path}/samples", json={"samples": [sample(0, 60), sample(1, 40)]})
    await admin_client.patch(path, json={"status": "finished"})
    first = (await admin_client.get(path)).json()["summary"]

    def no_database(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the samples were read again")

    monkeypatch.setattr(SampleBlock, "get_motor_collection", no_database)
    before = await scrape(admin_client)
    assert (await admin_client.get(path)).json()["summary"] == first
    after = await scrape(admin_client)
    assert delta(before, after, "loadwatch_cache_hits_total", cache="run_summaries") == 1
    monkeypatch.undo()
    # Deleting the run drops its entry.
    assert (await admin_client.delete(path)).status_code == 204
    assert value(await scrape(admin_client), "loadwatch_cache_items", cache="run_summaries") == 0

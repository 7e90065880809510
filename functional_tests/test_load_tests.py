"""Load tests as a resource: the runs loadkit records with --results-url. Labels claimed
once per owner under concurrency, timings in chunks stored once and read back as sent,
bad chunks refused with nothing stored, read tokens that only read, owners apart, the
comparison and estimates written in one request, the dashboard's reads, the machine under
test's CPU, and a delete that takes everything with it."""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from payloads import bearer, samples, timing_chunk, unique

SETTINGS = {"users": 10, "host": "http://127.0.0.1:1", "locustfile_hash": "abc", "pacing": 0.5}


def token(user: httpx.Client, scope: str) -> str:
    made = user.post("/auth/tokens", json={"name": unique("loadkit"), "scope": scope})
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def create(client: httpx.Client, label: str, **settings: Any) -> dict[str, Any]:
    made = client.post(
        "/load-tests", json={"label": label, "started_at": time.time(), **SETTINGS, **settings}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_two_masters_starting_at_once_never_share_a_label(
    base_url: str, user: httpx.Client
) -> None:
    write = token(user, "write")
    label = unique("nightly")

    def start(_: int) -> str:
        with bearer(base_url, write) as master:
            return str(create(master, label)["label"])

    with ThreadPoolExecutor(8) as pool:
        labels = list(pool.map(start, range(12)))
    assert len(set(labels)) == 12
    assert label in labels and f"{label}-12" in labels
    listed = user.get("/load-tests", params={"label": label}).json()
    assert [t["label"] for t in listed] == [label]
    numbers = [t["id"] for t in user.get("/load-tests", params={"limit": 1000}).json()]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_timings_are_stored_once_and_read_back_as_sent(user: httpx.Client) -> None:
    test = create(user, unique("run"))
    first, second = timing_chunk(0, [5.0, 6.5, 7.25]), timing_chunk(1, [9.0] * 4, endpoints=2)
    for _ in range(3):  # resent after an outage: stored once
        for chunk in (first, second):
            sent = user.post(f"/load-tests/runs/{test['id']}/chunks", json=chunk)
            assert sent.status_code == 201, sent.text
    assert sent.json() == {"stored": 0, "duplicate": True}
    assert user.get(f"/load-tests/runs/{test['id']}").json()["timings"] == 7
    page = user.get(f"/load-tests/runs/{test['id']}/chunks").json()
    assert [c["data"] for c in page["items"]] == [first["data"], second["data"]]
    assert page["items"][1]["endpoints"] == [["GET", "/e0"], ["GET", "/e1"]]
    assert page["next_after"] is None


def test_bad_chunks_are_refused_and_nothing_is_stored(user: httpx.Client) -> None:
    test = create(user, unique("run"))
    good = timing_chunk(0, [5.0, 6.0])
    bad = {
        "not base64": {**good, "data": "%%%"},
        "not zlib": {**good, "data": "aGVsbG8="},
        "3 timings": {**good, "count": 3},
        "endpoint index": {**timing_chunk(0, [5.0, 6.0], endpoints=2), "endpoints": [["GET", "/"]]},
        "too many": {**good, "count": 100_001},
        "unknown field": {**good, "worker": "w1"},
    }
    for why, body in bad.items():
        refused = user.post(f"/load-tests/runs/{test['id']}/chunks", json=body)
        assert refused.status_code == 422, (why, refused.text)
        assert refused.json()["detail"], why
    assert user.get(f"/load-tests/runs/{test['id']}").json()["timings"] == 0
    assert user.get(f"/load-tests/runs/{test['id']}/chunks").json()["items"] == []


def test_a_read_token_lists_and_reads_but_never_records(base_url: str, user: httpx.Client) -> None:
    test = create(user, unique("run"))
    with bearer(base_url, token(user, "read")) as reader:
        assert reader.get("/auth/me").json()["access"] == "read"
        refused = reader.post("/load-tests", json={"label": "x", "started_at": time.time()})
        assert refused.status_code == 403 and "read" in refused.json()["detail"]
        chunk = reader.post(f"/load-tests/runs/{test['id']}/chunks", json=timing_chunk(0, [1.0]))
        assert chunk.status_code == 403
        assert [t["id"] for t in reader.get("/load-tests").json()] == [test["id"]]
        assert reader.get(f"/load-tests/runs/{test['id']}").json()["label"] == test["label"]
    assert user.get(f"/load-tests/runs/{test['id']}").json()["timings"] == 0


def test_owners_are_apart(make_user: Any, admin: httpx.Client) -> None:
    alice, bob = make_user(), make_user()
    test = create(alice, "shared-label")
    assert create(bob, "shared-label")["label"] == "shared-label"  # labels are per owner
    assert bob.get(f"/load-tests/runs/{test['id']}").status_code == 404
    assert (
        bob.post(f"/load-tests/runs/{test['id']}/chunks", json=timing_chunk(0, [1.0])).status_code
        == 404
    )
    owner = alice.get("/auth/me").json()["username"]
    assert bob.get("/load-tests", params={"owner": owner}).status_code == 404
    assert admin.get("/load-tests", params={"owner": owner}).json()[0]["id"] == test["id"]
    assert owner in admin.get("/load-tests/owners").json()


def test_an_unknown_load_test_is_not_found(user: httpx.Client) -> None:
    for path in ("/load-tests/runs/999999999", "/load-tests/runs/999999999/chunks"):
        missing = user.get(path)
        assert missing.status_code == 404 and missing.json()["detail"] == "Load test not found"
    assert user.get("/load-tests/runs/abc").status_code == 422


def test_a_closed_run_the_comparison_and_what_the_dashboard_reads(user: httpx.Client) -> None:
    before = create(user, unique("base"))
    user.post(f"/load-tests/runs/{before['id']}/chunks", json=timing_chunk(0, [5.0] * 10))
    user.post(f"/load-tests/runs/{before['id']}/close", json={"stopped_at": time.time()})
    other = create(user, unique("other"), users=99)
    user.post(f"/load-tests/runs/{other['id']}/close", json={"stopped_at": time.time()})
    current = create(user, unique("now"))
    assert (
        user.patch(
            f"/load-tests/runs/{current['id']}", json={"spawned_at": time.time()}
        ).status_code
        == 200
    )
    closed = user.post(
        f"/load-tests/runs/{current['id']}/close",
        json={"stopped_at": time.time(), "req_per_s": 12.5, "timeline": [[time.time(), 12]]},
    )
    assert closed.json()["status"] == "finished", closed.text
    late = user.post(f"/load-tests/runs/{current['id']}/chunks", json=timing_chunk(0, [1.0]))
    assert late.status_code == 409 and "finished" in late.json()["detail"]
    comparable = user.get("/load-tests", params={"comparable_to": current["id"]}).json()
    assert [t["id"] for t in comparable] == [before["id"]]

    row = {"request_type": "GET", "name": "/e0", "count": 10, "quantile": "p50"}
    saved = user.post(
        "/load-tests/results",
        json={
            "estimates": [
                {
                    "run_id": before["id"],
                    "version": 3,
                    "rows": [{**row, "value": 5.0, "se_log": 0.1}],
                },
                {
                    "run_id": current["id"],
                    "version": 3,
                    "rows": [{**row, "value": 6.0, "se_log": 0.1}],
                },
            ],
            "comparison": {
                "run_id": current["id"],
                "baseline_id": before["id"],
                "verdict": "REGRESSION: GET /e0",
                "json_text": "{}",
                "banner": "b",
                "html": "<p>report</p><script>alert(1)</script>",
                "change_points": [
                    {
                        "run": current["label"],
                        "request_type": "GET",
                        "name": "/e0",
                        "quantile": "p50",
                        "change": 0.2,
                    }
                ],
            },
        },
    )
    assert saved.status_code == 204, saved.text
    assert user.get(f"/load-tests/runs/{current['id']}/estimates").json()["rows"][0]["value"] == 6.0
    stored = user.get(f"/load-tests/runs/{current['id']}/comparison").json()
    assert (
        stored["baseline_label"] == before["label"] and stored["verdict"] == "REGRESSION: GET /e0"
    )
    assert user.get(f"/load-tests/runs/{current['id']}").json()["verdict"] == "REGRESSION: GET /e0"
    page = user.get(f"/load-tests/runs/{current['id']}/report")
    assert "<p>report</p>" in page.text and "sandbox" in page.headers["content-security-policy"]
    trend = user.get("/load-tests/trend", params={"endpoint": "GET /e0"}).json()
    assert [p["label"] for p in trend] == [before["label"], current["label"]]
    assert trend[1]["p50_low"] < 6.0 < trend[1]["p50_high"] and trend[1]["p95"] is None
    assert {"id": "GET /e0"} in user.get("/load-tests/endpoints").json()
    marks = user.get("/load-tests/change-points", params={"endpoint": "GET /e0"}).json()
    assert [m["label"] for m in marks] == [current["label"]] and "+20.0%" in marks[0]["text"]
    assert user.get(f"/load-tests/runs/{current['id']}/timeline").json()[0]["requests"] == 12


def test_results_naming_another_users_run_write_nothing(make_user: Any) -> None:
    alice, bob = make_user(), make_user()
    mine, theirs = create(bob, unique("mine")), create(alice, unique("theirs"))
    row = {
        "request_type": "GET",
        "name": "/",
        "count": 1,
        "quantile": "p50",
        "value": 1.0,
        "se_log": 0.1,
    }
    refused = bob.post(
        "/load-tests/results",
        json={
            "estimates": [
                {"run_id": mine["id"], "version": 1, "rows": [row]},
                {"run_id": theirs["id"], "version": 1, "rows": [row]},
            ]
        },
    )
    assert refused.status_code == 404
    assert bob.get(f"/load-tests/runs/{mine['id']}/estimates").status_code == 404


def test_the_machine_under_test_stands_beside_the_run(user: httpx.Client) -> None:
    tag = unique("sut")
    monitor = user.post("/runs", json={"name": "sut", "tags": [tag]}).json()
    sent = user.post(
        f"/runs/{monitor['id']}/samples", json={"samples": samples(range(10), cpu=40.0)}
    )
    assert sent.status_code == 201, sent.text
    user.post(
        f"/runs/{monitor['id']}/samples",
        json={
            "samples": [
                {**s, "seq": 10 + i, "cpu_percent": 95.0} for i, s in enumerate(samples(range(2)))
            ]
        },
    )
    test = create(user, unique("run"), monitor_tag=tag)
    user.patch(f"/load-tests/runs/{test['id']}", json={"spawned_at": time.time() - 30})
    closed = user.post(
        f"/load-tests/runs/{test['id']}/close", json={"stopped_at": time.time()}
    ).json()
    assert closed["host_cpu"]["runs"] == [monitor["id"]]
    assert closed["host_cpu"]["samples"] == 12
    assert closed["host_cpu"]["p50"] == 40.0 and closed["host_cpu"]["p95"] > 90
    listed = user.get(f"/load-tests/runs/{test['id']}/monitor-runs").json()
    assert listed == [{"id": monitor["id"], "name": "sut"}]


def test_deleting_a_run_takes_its_timings_comparison_and_label(user: httpx.Client) -> None:
    label = unique("gone")
    test = create(user, label)
    user.post(f"/load-tests/runs/{test['id']}/chunks", json=timing_chunk(0, [5.0]))
    assert user.delete(f"/load-tests/runs/{test['id']}").status_code == 204
    assert user.get(f"/load-tests/runs/{test['id']}/chunks").status_code == 404
    assert create(user, label)["label"] == label  # the label is free again

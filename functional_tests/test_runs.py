from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from payloads import samples, unique


def test_create_run_returns_the_run(user: httpx.Client) -> None:
    me = user.get("/auth/me").json()["username"]
    response = user.post(
        "/runs", json={"name": "nightly", "host": "web-1", "threshold": 75.5, "tags": ["a", "b"]}
    )
    assert response.status_code == 201
    run = response.json()
    assert run["name"] == "nightly" and run["host"] == "web-1" and run["threshold"] == 75.5
    assert run["tags"] == ["a", "b"] and run["owner"] == me
    assert run["status"] == "running" and run["ended_at"] is None and run["started_at"]
    fetched = user.get(f"/runs/{run['id']}").json()
    assert {k: fetched[k] for k in run} == run


def test_run_validation(user: httpx.Client) -> None:
    for bad in (
        {},
        {"name": ""},
        {"name": "x", "threshold": 101},
        {"name": "x", "threshold": -1},
        {"name": "x", "tags": "notalist"},
        {"name": "x", "unknown": 1},
    ):
        assert user.post("/runs", json=bad).status_code == 422, bad
    assert (
        user.post(
            "/runs", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )


def test_finish_is_final(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}"
    finished = user.patch(path, json={"status": "finished"})
    assert finished.status_code == 200
    assert finished.json()["status"] == "finished" and finished.json()["ended_at"]
    for status in ("aborted", "finished"):
        again = user.patch(path, json={"status": status})
        assert again.status_code == 409
        assert "finished" in again.json()["detail"]
    assert user.patch(path, json={"status": "running"}).status_code == 422
    late = user.post(f"{path}/samples", json={"samples": samples([0])})
    assert late.status_code == 409


def test_abort(user: httpx.Client, run: dict[str, object]) -> None:
    response = user.patch(f"/runs/{run['id']}", json={"status": "aborted"})
    assert response.status_code == 200 and response.json()["status"] == "aborted"


def test_delete_removes_run_and_samples(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}"
    user.post(f"{path}/samples", json={"samples": samples(range(3))})
    assert user.delete(path).status_code == 204
    assert user.get(path).status_code == 404
    assert user.get(f"{path}/samples").status_code == 404
    assert user.delete(path).status_code == 404


def test_missing_and_malformed_ids_are_404(user: httpx.Client) -> None:
    for run_id in ("000000000000000000000000", "not-an-id", "1" * 30):
        for method, suffix in (
            ("GET", ""),
            ("DELETE", ""),
            ("GET", "/samples"),
            ("GET", "/samples.csv"),
        ):
            response = user.request(method, f"/runs/{run_id}{suffix}")
            assert response.status_code == 404, (method, run_id, suffix)
            assert response.json() == {"detail": "Run not found"}
        assert user.patch(f"/runs/{run_id}", json={"status": "finished"}).status_code == 404


def test_other_users_runs_are_invisible(
    make_user: Callable[..., httpx.Client], admin: httpx.Client
) -> None:
    alice, bob = make_user(), make_user()
    run = alice.post("/runs", json={"name": unique("alice")}).json()
    path = f"/runs/{run['id']}"
    assert bob.get(path).status_code == 404
    assert bob.patch(path, json={"status": "finished"}).status_code == 404
    assert bob.delete(path).status_code == 404
    assert bob.post(f"{path}/samples", json={"samples": samples([0])}).status_code == 404
    assert bob.get(f"{path}/samples").status_code == 404
    assert bob.get(f"{path}/samples.csv").status_code == 404
    assert run["id"] not in [r["id"] for r in bob.get("/runs").json()["items"]]
    # An admin sees every run; the owner still has it.
    assert admin.get(path).status_code == 200
    assert alice.get(path).status_code == 200


def test_list_pages_newest_first_and_filters_by_status(user: httpx.Client) -> None:
    ids = [user.post("/runs", json={"name": f"r{i}"}).json()["id"] for i in range(7)]
    user.patch(f"/runs/{ids[0]}", json={"status": "finished"})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = user.get("/runs", params=params).json()
        assert len(page["items"]) <= 3
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    finished = user.get("/runs", params={"status": "finished"}).json()["items"]
    assert [r["id"] for r in finished] == [ids[0]]
    running = user.get("/runs", params={"status": "running"}).json()["items"]
    assert ids[0] not in [r["id"] for r in running] and len(running) == 6


def test_list_rejects_bad_parameters(user: httpx.Client) -> None:
    assert user.get("/runs", params={"status": "paused"}).status_code == 422
    assert user.get("/runs", params={"limit": 0}).status_code == 422
    bad_cursor = user.get("/runs", params={"cursor": "garbage!"})
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["detail"][0]["msg"] == "Invalid cursor"
    assert bad_cursor.json()["detail"][0]["loc"] == ["query", "cursor"]


def test_summary(user: httpx.Client, run: dict[str, object]) -> None:
    # 4 samples 1 s apart; threshold 50: the two above it each last 1 s until the next one.
    body = {
        "samples": [
            {"seq": i, "timestamp": ts, "cpu_percent": cpu}
            for i, (ts, cpu) in enumerate(
                zip(
                    [
                        "2026-01-01T00:00:00Z",
                        "2026-01-01T00:00:01Z",
                        "2026-01-01T00:00:02Z",
                        "2026-01-01T00:00:03Z",
                    ],
                    [60.0, 70.0, 10.0, 80.0],
                    strict=True,
                )
            )
        ]
    }
    assert user.post(f"/runs/{run['id']}/samples", json=body).status_code == 201
    summary = user.get(f"/runs/{run['id']}").json()["summary"]
    assert summary["sample_count"] == 4
    assert summary["cpu_avg"] == 55.0
    assert summary["cpu_max"] == 80.0
    assert abs(summary["cpu_p95"] - 78.5) < 1e-9
    assert summary["time_above_threshold_seconds"] == 2.0
    assert summary["duration_seconds"] >= 0


def test_summary_without_threshold_or_samples(user: httpx.Client) -> None:
    run = user.post("/runs", json={"name": "bare"}).json()
    summary = user.get(f"/runs/{run['id']}").json()["summary"]
    assert summary["sample_count"] == 0 and summary["cpu_avg"] is None
    assert summary["time_above_threshold_seconds"] is None


def test_a_user_may_have_at_most_100_running_runs_even_in_a_burst(
    make_user: Callable[..., httpx.Client],
) -> None:
    """150 creates at once: 100 are made, 50 get 409 naming the cap (the default,
    MAX_OPEN_RUNS_PER_USER). Finishing or deleting one makes room for one more."""
    client = make_user()
    cookies, base = client.cookies, str(client.base_url)

    def create(i: int) -> httpx.Response:
        return httpx.post(f"{base}/runs", json={"name": f"burst-{i}"}, cookies=cookies, timeout=60)

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(create, range(150)))
    made = [a.json()["id"] for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 409]
    assert len(made) == 100 and len(refused) == 50
    assert "at most 100 running runs" in refused[0].json()["detail"]
    assert client.patch(f"/runs/{made[0]}", json={"status": "finished"}).status_code == 200
    assert client.delete(f"/runs/{made[1]}").status_code == 204
    assert client.post("/runs", json={"name": "room"}).status_code == 201
    assert client.post("/runs", json={"name": "room"}).status_code == 201
    assert client.post("/runs", json={"name": "full"}).status_code == 409
    # Another user is not held by this one's cap.
    assert make_user().post("/runs", json={"name": "other"}).status_code == 201

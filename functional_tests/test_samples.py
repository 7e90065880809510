import csv
import io

import httpx
from payloads import samples, timestamp


def test_paging_to_the_end_returns_every_sample_once(
    user: httpx.Client, run: dict[str, object]
) -> None:
    path = f"/runs/{run['id']}/samples"
    # Out of order, with gaps, across two posts.
    seqs = [*range(0, 40), *range(100, 130, 3), 5000, 7]
    first = user.post(path, json={"samples": samples(seqs[:25][::-1])})
    second = user.post(path, json={"samples": samples(seqs[25:])})
    assert first.status_code == second.status_code == 201
    expected = sorted(set(seqs))
    assert first.json()["accepted"] + second.json()["accepted"] == len(expected)
    seen: list[int] = []
    after = None
    while True:
        params = {"limit": 7, **({"after_seq": after} if after is not None else {})}
        page = user.get(path, params=params).json()
        seen += [item["seq"] for item in page["items"]]
        after = page["next_after_seq"]
        if after is None:
            break
    assert seen == expected


def test_retry_is_idempotent(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}/samples"
    batch = samples(range(10))
    assert user.post(path, json={"samples": batch}).json() == {"accepted": 10, "duplicates": 0}
    assert user.post(path, json={"samples": batch}).json() == {"accepted": 0, "duplicates": 10}
    overlap = user.post(path, json={"samples": samples(range(5, 15))}).json()
    assert overlap == {"accepted": 5, "duplicates": 5}
    twice_in_one = user.post(path, json={"samples": samples([20, 20])}).json()
    assert twice_in_one == {"accepted": 1, "duplicates": 1}
    items = user.get(path).json()["items"]
    assert [i["seq"] for i in items] == [*range(15), 20]


def test_sample_fields_round_trip(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}/samples"
    body = {
        "seq": 3,
        "timestamp": "2026-03-01T12:00:00.250+02:00",
        "cpu_percent": 42.5,
        "per_cpu": [10.0, 75.0],
    }
    assert user.post(path, json={"samples": [body]}).status_code == 201
    (item,) = user.get(path).json()["items"]
    assert item["seq"] == 3 and item["cpu_percent"] == 42.5 and item["per_cpu"] == [10.0, 75.0]
    assert item["timestamp"].startswith("2026-03-01T10:00:00.25")


def test_bad_samples_are_422_and_nothing_of_the_batch_is_stored(
    user: httpx.Client, run: dict[str, object]
) -> None:
    path = f"/runs/{run['id']}/samples"
    good = samples([1])[0]
    for bad in (
        {**good, "seq": -1},
        {**good, "seq": 1.5},
        {**good, "seq": "one"},
        {**good, "cpu_percent": 100.1},
        {**good, "cpu_percent": -0.1},
        {**good, "timestamp": "2026-01-01T00:00:00"},  # no zone
        {**good, "timestamp": "yesterday"},
        {**good, "timestamp": timestamp(+60)},  # the future
        {**good, "per_cpu": [50, 101]},
        {**good, "per_cpu": [1.0] * 1025},
        {k: v for k, v in good.items() if k != "cpu_percent"},
    ):
        response = user.post(path, json={"samples": [samples([0])[0], bad]})
        assert response.status_code == 422, bad
        assert response.json()["detail"]
    assert user.post(path, json={"samples": []}).status_code == 422
    assert user.post(path, json={"samples": samples(range(10_001))}).status_code == 422
    assert user.get(path).json()["items"] == []


def test_a_few_seconds_of_clock_skew_is_accepted(
    user: httpx.Client, run: dict[str, object]
) -> None:
    response = user.post(
        f"/runs/{run['id']}/samples",
        json={"samples": [{"seq": 0, "timestamp": timestamp(+3), "cpu_percent": 1}]},
    )
    assert response.status_code == 201


def test_body_over_5_mb_is_413(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}/samples"
    big = b'{"samples": [' + b" " * (5 * 1024 * 1024 + 1) + b"]}"
    response = user.post(path, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "5 MB" in response.json()["detail"]

    def chunks():  # no Content-Length: the limit holds while streaming too
        yield b'{"samples": ['
        for _ in range(6):
            yield b" " * (1024 * 1024)
        yield b"]}"

    streamed = user.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert user.get(path).json()["items"] == []


def test_a_body_of_countless_small_objects_is_413(
    user: httpx.Client, run: dict[str, object]
) -> None:
    """Two bytes of JSON ({} or []) become some 60 bytes of objects once parsed: a body may
    hold at most 262,144 objects and arrays, counted before it is parsed."""
    headers = {"content-type": "application/json"}
    for path, envelope in [
        (f"/runs/{run['id']}/samples", b'{"samples": [%s]}'),
        (f"/runs/{run['id']}/events", b'{"events": [%s]}'),
    ]:
        for junk in (b"{}", b"[]"):
            body = envelope % b",".join([junk] * 300_000)
            refused = user.post(path, content=body, headers=headers)
            assert refused.status_code == 413, path
            assert "262,144 JSON objects and arrays" in refused.json()["detail"]
    assert user.get(f"/runs/{run['id']}/samples").json()["items"] == []


def test_sample_list_parameters(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}/samples"
    for params in ({"limit": 0}, {"limit": 10_001}, {"after_seq": -2}, {"after_seq": "x"}):
        assert user.get(path, params=params).status_code == 422, params
    assert user.get(path, params={"limit": 10_000}).status_code == 200


def test_csv_export_streams_every_sample(user: httpx.Client, run: dict[str, object]) -> None:
    path = f"/runs/{run['id']}/samples"
    assert user.post(path, json={"samples": samples(range(2500))}).status_code == 201
    last = {"seq": 9000, "timestamp": timestamp(), "cpu_percent": 5, "per_cpu": [1.5, 2.5]}
    assert user.post(path, json={"samples": [last]}).status_code == 201
    response = user.get(f"/runs/{run['id']}/samples.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # The first columns as ever, then one per optional figure (empty where a sample lacks it).
    assert list(rows[0])[:4] == ["seq", "timestamp", "cpu_percent", "per_cpu"]
    assert {"memory_used_percent", "process_cpu_percent"} <= set(rows[0])
    assert rows[0]["memory_used_percent"] == ""
    assert [int(r["seq"]) for r in rows] == [*range(2500), 9000]
    assert rows[-1]["per_cpu"] == "1.5;2.5"


def test_unauthenticated_sample_calls_are_401(base_url: str, run: dict[str, object]) -> None:
    path = f"{base_url}/runs/{run['id']}/samples"
    assert httpx.get(path).status_code == 401
    assert httpx.post(path, json={"samples": samples([0])}).status_code == 401


def test_per_cpu_values_are_budgeted_per_post_and_per_page(
    user: httpx.Client, run: dict[str, object]
) -> None:
    """At most 262,144 per_cpu values in a POST or a page (256 samples of 1,024 CPUs): a
    request's memory stays bounded whatever the machine's CPU count."""
    path = f"/runs/{run['id']}/samples"
    wide = [{**s, "per_cpu": [1.5] * 1024} for s in samples(range(600))]
    refused = user.post(path, json={"samples": wide[:257]})
    assert refused.status_code == 422
    assert "262,144 per_cpu values" in refused.text and len(refused.content) < 2000
    for first in range(0, 600, 256):
        answer = user.post(path, json={"samples": wide[first : first + 256]})
        assert answer.status_code == 201, answer.text
    assert user.get(f"/runs/{run['id']}").json()["summary"]["sample_count"] == 600
    pages, after = [], -1
    while after is not None:
        page = user.get(path, params={"limit": 10_000, "after_seq": after}).json()
        pages.append(len(page["items"]))
        after = page["next_after_seq"]
    assert pages == [256, 256, 88]

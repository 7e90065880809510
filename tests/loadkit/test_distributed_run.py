"""A real distributed Locust run (master + 2 workers) against the live service."""

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from loadkit.runtime.pacing import JITTER, Pacing, paced
from loadkit.runtime.samplers import (
    Generated,
    RandomSampler,
    SamplerExhausted,
    SequentialSampler,
    UniqueSequentialSampler,
    csv_rows,
)
from loadkit.runtime.state import Kit
from loadkit.store import SQLiteStore
from user_pool import pool_source, slices

from tests.live import LOCUSTFILE, ROOT, Service, running_locust, wait_for_users
from tests.metrics_text import samples, value

SAMPLES = ("POST", "/runs/[id]/samples")


def posted(text: str) -> float:
    return value(text, "locust_requests_total", method=SAMPLES[0], name=SAMPLES[1])


def rate_between(store: SQLiteStore, run_id: int, start: float, end: float) -> float:
    """Samples POSTs per second that started within [start, end), from the recorded timings
    (exact to the request, where Locust's counters move once per 3 s report)."""
    (count,) = store.db.execute(
        "SELECT COUNT(*) FROM timings WHERE run_id = ? AND request_type = ? AND name = ? "
        "AND ts >= ? AND ts < ?",
        (run_id, *SAMPLES, start, end),
    ).fetchone()
    return float(count) / (end - start)


def test_distributed_run(live_service: Service, tmp_path: Path) -> None:
    args = [
        "-u",
        "12",
        "-r",
        "12",
        "-t",
        "30s",  # the pool and its analyst data are made within it, before the users spawn
        "--autoquit",
        "2",
        "--pacing",
        "2",
        "--user-pool",
        "24",
        "--csv",
        str(tmp_path / "run"),
    ]
    with running_locust(live_service.url, tmp_path, args) as cluster:
        wait_for_users(cluster.exporter_url, 12)
        time.sleep(8)  # each user logged in and kept its pace for a while
        changed = httpx.post(f"{cluster.web_url}/pacing", json={"seconds": 0.5})
        assert changed.status_code == 200 and changed.json()["seconds"] == 0.5
        assert httpx.get(f"{cluster.web_url}/pacing").json()["seconds"] == 0.5
        assert httpx.post(f"{cluster.web_url}/pacing", json={"seconds": -1}).status_code == 400
        time.sleep(7)
        text = httpx.get(cluster.exporter_url).text
        pacing_tab = httpx.get(f"{cluster.web_url}/loadwatch/panel/pacing").text
        assert cluster.master.wait(60) == 0, cluster.log("master")

    # The workers took the new pacing: 9 monitor users at 2 s, then at 0.5 s. The run
    # recorded the change with its time.
    store = SQLiteStore(tmp_path / "results.sqlite")
    (run,) = store.runs()
    ((changed_at, seconds),) = store.pacing_changes(run.id)
    assert seconds == 0.5 and run.pacing == 2 and run.pacing_changes == 1
    slow = rate_between(store, run.id, changed_at - 6, changed_at)
    # From 2.5 s on, users have finished the waits they began under the old pacing.
    fast = rate_between(store, run.id, changed_at + 2.5, changed_at + 6.5)
    assert 3.0 <= slow <= 6.0, slow
    assert fast > 2.5 * slow, (slow, fast)

    # The exporter parses and shows the counters, workers and state.
    assert value(text, "locust_workers") == 2
    assert value(text, "locust_users") == 12
    assert value(text, "locust_running") == 1
    assert posted(text) > 0
    assert value(text, "locust_requests_total", method="POST", name="/auth/login") == 12
    # The analysts read real data: the run the master gave each of them, by pages and CSV.
    for name in ("/runs/[id]/samples", "/runs/[id]/samples.csv"):
        assert value(text, "locust_requests_total", method="GET", name=name) > 0, name
    assert "analyst data ready (24 of 24 users needed a 2000-sample run)" in cluster.log("master")
    assert value(text, "locust_fail_ratio") == 0
    assert all(v == 0 for (name, _), v in samples(text).items() if name == "locust_failures_total")
    quantiles = {
        dict(labels).get("quantile")
        for (name, labels) in samples(text)
        if name == "locust_response_time_seconds"
    }
    assert {"0.5", "0.95", "0.99"} <= quantiles
    # The web UI's Pacing tab shows the value and the change, recorded with the run.
    assert 'value="0.5"' in pacing_tab and ": 0.5 s</li>" in pacing_tab

    # Zero failures over the whole run, by Locust's own CSV.
    with (tmp_path / "run_stats.csv").open() as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 100 and int(total["Failure Count"]) == 0

    # Every worker got credentials of its own.
    got = []
    for i in range(2):
        match = re.search(r"received (\d+) credentials: (\S+)", cluster.log(f"worker-{i}"))
        assert match, cluster.log(f"worker-{i}")
        got.append(set(match.group(2).split(",")))
    assert all(len(g) == 12 for g in got) and not got[0] & got[1]


def test_thresholds_fail_the_run(live_service: Service, tmp_path: Path) -> None:
    args = [
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        "--autoquit",
        "0",
        "--pacing",
        "1",
        "--user-pool",
        "4",
        "--min-rps",
        "1000",
        "--max-p95-ms",
        "0.001",
    ]
    with running_locust(live_service.url, tmp_path, args) as cluster:
        assert cluster.master.wait(60) == 1
    log = cluster.log("master")
    assert "threshold broken" in log and "--min-rps 1000" in log and "--max-p95-ms" in log


def test_samplers(tmp_path: Path) -> None:
    source = Generated(lambda i: f"v{i}", 3)
    assert list(source) == ["v0", "v1", "v2"] and source[-1] == "v2"
    assert source.count("v1") == 1 and source.index("v2") == 2  # Sequence's own methods
    sequential = SequentialSampler(source)
    assert [sequential.next() for _ in range(5)] == ["v0", "v1", "v2", "v0", "v1"]
    unique = UniqueSequentialSampler(source)
    assert [unique.next() for _ in range(3)] == ["v0", "v1", "v2"]
    with pytest.raises(SamplerExhausted):
        unique.next()
    assert list(UniqueSequentialSampler(source)) == ["v0", "v1", "v2"]
    draws = {RandomSampler(source).next() for _ in range(200)}
    assert draws == {"v0", "v1", "v2"}
    with pytest.raises(ValueError, match="empty"):
        RandomSampler([])
    path = tmp_path / "users.csv"
    path.write_text("username,password\nann,a-pass\nbob,b-pass\n")
    assert UniqueSequentialSampler(csv_rows(path)).next() == {
        "username": "ann",
        "password": "a-pass",
    }


def test_pool_slices_are_disjoint_and_cover_the_pool() -> None:
    creds = list(pool_source(10, "pw"))
    assert creds[0].username == "loadtest-0001" and creds[-1].username == "loadtest-0010"
    parts = slices(creds, 3)
    assert sorted(c.username for part in parts for c in part) == sorted(c.username for c in creds)
    assert [len(p) for p in parts] == [4, 3, 3]


def test_paced_waits_keep_the_rhythm(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("loadkit.runtime.pacing.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("loadkit.runtime.pacing.random.uniform", lambda low, high: 1.0)  # no jitter

    class User:
        environment = SimpleNamespace(loadkit=Kit(pacing=Pacing(2.0)))

    user = User()
    clock[0] += 0.5  # the first iteration took 0.5 s
    assert paced(user) == pytest.approx(2.0)  # the first wait is a full period
    clock[0] += 2.0 + 0.3  # waited, then an iteration of 0.3 s
    assert paced(user) == pytest.approx(1.7)
    clock[0] += 1.7 + 3.0  # a slow iteration: 3 s
    assert paced(user) == 0  # no catching up with a burst


def test_paced_periods_jitter_around_the_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users must not stay in lockstep: each period varies, and the rate stays the pacing."""
    clock = [0.0]
    monkeypatch.setattr("loadkit.runtime.pacing.time.monotonic", lambda: clock[0])

    class User:
        environment = SimpleNamespace(loadkit=Kit(pacing=Pacing(2.0)))

    user = User()
    waits = []
    for _ in range(2000):
        waits.append(paced(user))
        clock[0] += waits[-1]
    assert 2.0 * (1 - JITTER) <= min(waits) and max(waits) <= 2.0 * (1 + JITTER)
    assert sum(waits) / len(waits) == pytest.approx(2.0, abs=0.01)
    assert max(waits) - min(waits) > 0.3


@pytest.mark.parametrize("pacing", ["0", "-1", "abc", "nan"])
def test_a_bad_pacing_is_a_usage_error_before_anything_starts(pacing: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--pacing", pacing],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "--pacing" in result.stderr and "Traceback" not in result.stderr


def test_loadwatchs_scenario_without_its_admin_password_says_which_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADWATCH_")}
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-t", "1s"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode != 0, result.stderr
    assert "LOADWATCH_ADMIN_PASSWORD" in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if "LOADWATCH_ADMIN" in line]) == 1


@pytest.mark.parametrize(
    ("error", "label"),
    [
        (
            "HTTPError('500 Server Error: Internal Server Error for url: http://h/runs/6b01/x')",
            "HTTP 500 Internal Server Error",
        ),
        ("CatchResponseError('login as loadtest-0042: 401')", "HTTP 401 Unauthorized"),
        ("CatchResponseError('CSV expected, got 503')", "HTTP 503 Service Unavailable"),
        ("CatchResponseError('500 samples sent, the answer counts {}')", "CatchResponseError"),
        ("ConnectionRefusedError(111, 'Connection refused')", "ConnectionRefusedError"),
        ("requests.exceptions.ReadTimeout('HTTPConnectionPool: read timeout')", "ReadTimeout"),
        (ConnectionResetError(104, "reset by peer"), "ConnectionResetError"),
        ("something a user wrote, with body text " + "x" * 500, "other"),
    ],
)
def test_errors_are_labelled_from_a_bounded_set(error: object, label: str) -> None:
    """Locust's error text carries URLs, user names and bodies: the exporter's label keeps
    only the status and its reason, or the exception class."""
    from loadkit.runtime.exporter import error_label

    assert error_label(error) == label

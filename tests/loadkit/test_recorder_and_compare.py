"""Recording every request and comparing runs: statistics, the store, and two real runs."""

import csv
import json
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiosmtpd.controller import Controller
from loadkit.compare import compare_runs
from loadkit.core.defaults import MIN_CHANGE
from loadkit.core.records import Batch, RunInfo
from loadkit.report.comparison import text_table
from loadkit.report.notify import notify
from loadkit.stats.comparability import comparability_warnings
from loadkit.stats.comparison import REGRESSION, Comparison, compare_endpoints
from loadkit.store import SQLiteStore

from tests.live import (
    chromium_screenshot,
    free_port,
    headless_test_args,
    running_locust,
    running_service,
)
from tests.loadkit.conftest import Where

SLOWED = ("POST", "/runs/[id]/samples")


def test_store_marks_ramp_up_and_finds_the_previous_comparable_run(where: Where) -> None:
    store = where.open()
    settings = {"users": 5, "host": "h", "locustfile_hash": "abc", "pacing": 1.0}
    first, _ = store.start_run("a", settings)
    store.start_run("other-host", {**settings, "host": "elsewhere"})
    store.start_run("other-pacing", {**settings, "pacing": 0.5})
    one = Batch("w", [("GET", "/x")], [0], [1.0], [5.0], [True])
    store.add_timings(first, one, spawned_at=None)
    three = Batch(
        "w", [("GET", "/x")], [0, 0, 0], [9.0, 11.0, 12.0], [7.0, 9.0, 99.0], [True, True, False]
    )
    store.add_timings(first, three, spawned_at=10.0)
    store.mark_spawned(first, 10.0)
    store.finish_run(first, 12.0, peak_cpu=42.0)
    assert store.count(first) == 4
    assert list(store.response_times(first, ("GET", "/x"))) == [9.0]  # ramp-up and failures out
    done = store.run("a")
    assert done is not None and done.stopped_at == 12.0 and done.peak_cpu == 42.0
    assert done.req_per_s == pytest.approx(1.0)  # 2 timings after ramp-up in 2 s
    _, label = store.start_run("a", settings)
    assert label == "a-2"
    third, _ = store.start_run("c", settings)
    current = store.run("c")
    assert current is not None and current.id == third
    previous = store.comparable_runs(current, limit=1)
    assert [run.label for run in previous] == ["a"]  # not the other host or pacing


def test_timings_come_back_in_time_order_across_workers(where: Where) -> None:
    store = where.open()
    run, _ = store.start_run("a", {})
    late = Batch("w1", [("GET", "/x")], [0, 0], [20.0, 21.0], [3.0, 4.0], [True, True])
    early = Batch("w2", [("GET", "/x")], [0, 0], [10.0, 11.0], [1.0, 2.0], [True, True])
    store.add_timings(run, late, spawned_at=0.0)
    store.add_timings(run, early, spawned_at=0.0)
    store.finish_run(run, 22.0, None)
    assert list(store.response_times(run, ("GET", "/x"))) == [1.0, 2.0, 3.0, 4.0]


def test_a_store_from_before_the_new_columns_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, label TEXT UNIQUE NOT NULL, "
        "started_at REAL NOT NULL, spawned_at REAL, stopped_at REAL, users INTEGER, "
        "spawn_rate REAL, run_time TEXT, host TEXT, locustfile_hash TEXT, first_rowid INTEGER, "
        "last_rowid INTEGER); INSERT INTO runs (label, started_at, users) VALUES ('old', 1, 5);"
    )
    old.commit()
    old.close()
    store = SQLiteStore(path)
    run = store.run("old")
    assert run is not None and run.users == 5 and run.pacing is None and run.peak_cpu is None


def run_info(label: str, **changes: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "id": 1,
        "label": label,
        "started_at": 1_700_000_000.0,
        "spawned_at": 1_700_000_004.0,
        "stopped_at": 1_700_000_060.0,
        "users": 10,
        "spawn_rate": 10.0,
        "run_time": "1m",
        "host": "http://h",
        "locustfile_hash": "abc",
        "pacing": 1.0,
        "req_per_s": 100.0,
        "peak_cpu": 40.0,
    }
    return RunInfo(**{**fields, **changes})


def test_comparability_warnings_name_what_differs() -> None:
    same = comparability_warnings(run_info("now"), run_info("before"))
    assert same == []
    differ = comparability_warnings(
        run_info("now", pacing=0.5, users=20, req_per_s=85.0, peak_cpu=97.0), run_info("before")
    )
    text = " | ".join(differ)
    assert "different pacing: 0.5 s vs 1.0 s" in text
    assert "different users: 20 vs 10" in text
    assert "request rate differs by -15%" in text
    assert "'now' reached 97 % CPU" in text
    assert comparability_warnings(run_info("now", req_per_s=108.0), run_info("b")) == []


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        Receiver.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode())
        return "250 OK"


@pytest.fixture
def webhook() -> Any:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture
def mailbox() -> Any:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield f"127.0.0.1:{controller.port}", box
    controller.stop()


def test_notices_reach_smtp_and_a_webhook(webhook: str, mailbox: Any) -> None:
    smtp, box = mailbox

    class Options:
        notify_smtp, notify_to, notify_from, notify_webhook = (
            smtp,
            "team@example.test",
            "lw@localhost",
            webhook,
        )

    payload = {"current": {"label": "r2"}, "baseline": {"label": "r1"}, "regressions": ["GET /x"]}
    notify(Options, payload, "the table")
    assert Receiver.received[0]["summary"] == "loadwatch: run r2 REGRESSED on GET /x"
    assert "Subject: loadwatch: run r2 REGRESSED on GET /x" in box.messages[0]
    assert "the table" in box.messages[0]


def locust_total(csv_prefix: Path) -> int:
    with Path(f"{csv_prefix}_stats.csv").open() as handle:
        return int(
            next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")["Request Count"]
        )


def test_two_real_runs_and_the_regression_gate(tmp_path: Path, webhook: str, mailbox: Any) -> None:
    smtp, box = mailbox
    db = tmp_path / "results.sqlite"
    port = free_port()
    # Enough requests that the slowed endpoint has well over MIN_COUNT timings per run.
    common = headless_test_args(12, 15, 0.1, str(db))
    env = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin-password"}

    with running_service(env, port=port) as service:
        with running_locust(
            service.url,
            tmp_path / "base",
            [*common, "--run-label", "base", "--csv", str(tmp_path / "base")],
        ) as run:
            assert run.master.wait(90) == 0, run.log("master")
    slow_env = {**env, "INJECT_LATENCY_MS": "25", "INJECT_LATENCY_ROUTE": "/runs/{id}/samples"}
    html = tmp_path / "slow.html"
    with running_service(slow_env, port=port) as service:
        args = [
            *common,
            "--run-label",
            "slow",
            "--baseline",
            "base",
            "--fail-on-regression",
            "--html",
            str(html),
            "--csv",
            str(tmp_path / "slow"),
            "--notify-webhook",
            webhook,
            "--notify-smtp",
            smtp,
            "--notify-to",
            "ops@example.test",
        ]
        with running_locust(service.url, tmp_path / "slowrun", args) as run:
            code = run.master.wait(90)
    master_log = run.log("master")
    assert code == 1, master_log  # the gate
    (gate_line,) = [
        line for line in master_log.splitlines() if "regression against 'base':" in line
    ]
    assert "POST /runs/[id]/samples" in gate_line

    # Everything Locust counted is in the store, for both runs.
    store = SQLiteStore(db)
    for label in ("base", "slow"):
        info = store.run(label)
        assert info is not None and info.spawned_at is not None and info.stopped_at is not None
        assert store.count(info.id) == locust_total(tmp_path / label), label

    # The verdict, in the JSON next to the report, on stdout and in the HTML section.
    result = json.loads((tmp_path / "slow.compare.json").read_text())
    assert result["baseline"]["label"] == "base"
    verdicts = {(e["method"], e["name"]): e for e in result["endpoints"]}
    slowed = verdicts[SLOWED]
    assert slowed["verdict"] == REGRESSION
    assert slowed["change"]["p50"] > 1.0
    assert slowed["reason"].startswith("p") and "interval" in slowed["reason"]
    p50 = next(q for q in slowed["quantiles"] if q["quantile"] == "p50")
    assert p50["low"] > p50["threshold"]
    # Nothing untouched regressed: only the slowed route (its POSTs, and the analysts' GETs
    # of pages when they have enough timings).
    assert "POST /runs/[id]/samples" in result["regressions"]
    assert set(result["regressions"]) <= {"POST /runs/[id]/samples", "GET /runs/[id]/samples"}
    assert result["verdict"].startswith("REGRESSION: ")
    assert "POST /runs/[id]/samples p" in result["verdict"]
    assert "verdict: REGRESSION" in master_log and "against baseline 'base'" in master_log
    slow_run = result["current"]
    assert slow_run["pacing"] == 0.1 and slow_run["req_per_s"] > 10
    assert slow_run["peak_cpu"] is not None
    page = html.read_text()
    assert 'id="loadwatch-baseline"' in page and "<svg" in page and "regression" in page
    # The one-line verdict at the top of Locust's report links to the section.
    banner = page.index('id="loadwatch-baseline-summary"')
    assert banner < page.index('id="root"') and 'href="#loadwatch-baseline"' in page
    assert "Comparability" in page and "ramp-up excluded" in page
    chromium_screenshot(f"file://{html}", tmp_path / "baseline-report.png", "1400,5200")
    assert (tmp_path / "baseline-report.png").stat().st_size > 10_000

    # Each compared run also gets a page and JSON of its own beside the results store.
    assert (
        json.loads((tmp_path / "reports" / "slow.json").read_text())["verdict"] == result["verdict"]
    )
    assert 'id="loadwatch-baseline"' in (tmp_path / "reports" / "slow.html").read_text()

    # The notices went out.
    assert Receiver.received and "REGRESSED" in Receiver.received[0]["summary"]
    assert box.messages and "REGRESSED" in box.messages[0]

    # The same comparison after the fact, from the command line.
    cli = [sys.executable, "-m", "loadkit.cli", "--db", str(db)]
    again = subprocess.run(
        [*cli, "slow", "base", "--fail-on-regression", "--html", str(tmp_path / "cmp.html")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1 and "regression" in again.stdout
    assert 'id="loadwatch-baseline"' in (tmp_path / "cmp.html").read_text()
    previous = compare_runs(store, "slow", "previous")
    assert previous.baseline is not None and previous.baseline.label == "base"
    listed = subprocess.run([*cli, "--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["base", "slow"]
    as_json = subprocess.run([*cli, "--list", "json"], capture_output=True, text=True, timeout=60)
    runs = json.loads(as_json.stdout)
    assert [r["label"] for r in runs] == ["base", "slow"]
    assert all(r["pacing"] == 0.1 and r["timings"] > 0 and r["req_per_s"] > 0 for r in runs)
    # Each run's verdict against its own baseline, as stored when its test stopped.
    assert runs[0]["verdict"] is None and runs[1]["verdict"].startswith("REGRESSION")
    assert "REGRESSION" in listed.stdout.splitlines()[2]
    missing = subprocess.run([*cli, "slow", "nope"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no run labelled 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_each_test_of_one_process_starts_a_fresh_run(tmp_path: Path) -> None:
    """A web UI runs test after test in one master: spawn time, CPU peak and counts must
    not carry over from the test before."""
    from loadkit.runtime.recorder import Recorder

    recorder = Recorder(SQLiteStore(tmp_path / "r.sqlite"))
    recorder.start("ui", {"users": 2})
    recorder.spawned()
    recorder.cpu(70.0)
    recorder.add(Batch("w", [("GET", "/x")], [0], [2e9], [5.0], [True]))
    recorder.start("ui", {"users": 2})
    assert recorder.label == "ui-2"
    assert recorder.spawned_at is None and recorder.peak_cpu is None and recorder.received == 0
    recorder.finish()


def test_a_sequential_pair_without_measured_noise_gates_only_beyond_its_guard() -> None:
    """Unmeasured noise between two runs: a 30 % slowdown is still reported a regression,
    but fails --fail-on-regression only on a median beyond +50 %, and a tail alone never
    does (a busy neighbour multiplies tails); a duet's regression always fails it."""
    rng = np.random.default_rng(3)
    baseline = rng.lognormal(np.log(20), 0.3, 20_000)
    found = {}
    for factor in (1.3, 2.0):
        current = rng.lognormal(np.log(20 * factor), 0.3, 20_000)
        comparison = Comparison(run_info("now"), run_info("before"), 0.05, dict(MIN_CHANGE))
        comparison.endpoints = compare_endpoints([("GET", "/x", current, baseline)])
        found[factor] = comparison
    assert [e.label for e in found[1.3].regressions] == ["GET /x"]
    assert not found[1.3].noise_measured and found[1.3].gating_regressions == []
    assert "unmeasured" in text_table(found[1.3])
    assert [e.label for e in found[2.0].gating_regressions] == ["GET /x"]
    # A neighbour busy during the current run: the median holds, the tail is 3 times longer.
    tail = baseline.copy()
    tail[rng.random(tail.size) < 0.1] *= 6
    busy = Comparison(run_info("now"), run_info("before"), 0.05, dict(MIN_CHANGE))
    busy.endpoints = compare_endpoints([("GET", "/x", tail, baseline)])
    assert [e.label for e in busy.regressions] == ["GET /x"]
    assert busy.gating_regressions == []
    busy.duet = True
    assert [e.label for e in busy.gating_regressions] == ["GET /x"]
    found[1.3].duet = True
    assert [e.label for e in found[1.3].gating_regressions] == ["GET /x"]
    assert "unmeasured" not in text_table(found[1.3])

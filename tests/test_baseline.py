"""Recording every request and comparing runs: statistics, the store, and two real runs."""

import csv
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiosmtpd.controller import Controller
from loadkit.compare import IMPROVEMENT, NO_CHANGE, REGRESSION, compare_runs, compare_samples
from loadkit.notify import notify
from loadkit.results import Batch, ResultsStore

from tests.live import ROOT, chromium_screenshot, free_port, running_locust, running_service

ARTIFACTS = ROOT / "artifacts"
SLOWED = ("POST", "/runs/[id]/samples")


def lognormal(n: int, scale: float = 1.0, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(mean=np.log(20 * scale), sigma=0.4, size=n)


def test_same_distribution_is_no_change() -> None:
    result = compare_samples(
        "GET", "/x", lognormal(5000, seed=1), lognormal(5000, seed=2), 0.01, 0.1
    )
    assert result.verdict == NO_CHANGE
    assert result.p_value is not None and result.p_value > 0.01


def test_a_20_percent_slowdown_is_a_regression_and_a_speedup_an_improvement() -> None:
    base = lognormal(3000, seed=3)
    slower = compare_samples("GET", "/x", lognormal(3000, 1.2, seed=4), base, 0.01, 0.1)
    assert slower.verdict == REGRESSION
    assert slower.change["p50"] == pytest.approx(0.2, abs=0.05)
    faster = compare_samples("GET", "/x", lognormal(3000, 1 / 1.2, seed=5), base, 0.01, 0.1)
    assert faster.verdict == IMPROVEMENT


def test_a_tiny_shift_in_a_huge_sample_is_not_significant() -> None:
    base, shifted = lognormal(400_000, seed=6), lognormal(400_000, 1.01, seed=7)
    result = compare_samples("GET", "/x", shifted, base, 0.01, 0.1)
    assert result.p_value is not None and result.p_value < 0.01  # KS alone would flag it
    assert result.d is not None and result.d < 0.1
    assert result.verdict == NO_CHANGE  # --min-effect keeps it from counting
    strict = compare_samples("GET", "/x", shifted, base, 0.01, 0.0)
    assert strict.verdict == REGRESSION


def test_too_few_samples_are_not_compared() -> None:
    assert (
        compare_samples("GET", "/x", np.array([1.0]), lognormal(10), 0.01, 0.1).verdict
        == "not compared"
    )


def test_store_marks_ramp_up_and_finds_the_previous_comparable_run(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.sqlite")
    settings = {"users": 5, "host": "h", "locustfile_hash": "abc"}
    first = store.start_run("a", settings)
    store.start_run("other-host", {**settings, "host": "elsewhere"})
    one = Batch("w", [("GET", "/x")], [0], [1.0], [5.0], [True])
    store.add_timings(first, one, spawned_at=None)
    three = Batch(
        "w", [("GET", "/x")], [0, 0, 0], [9.0, 11.0, 12.0], [7.0, 9.0, 99.0], [True, True, False]
    )
    store.add_timings(first, three, spawned_at=10.0)
    assert store.count(first) == 4
    assert list(store.response_times(first, ("GET", "/x"))) == [9.0]  # ramp-up and failures out
    assert store.free_label("a") == "a-2"
    third = store.start_run("c", settings)
    current = store.run("c")
    assert current is not None and current.id == third
    previous = store.previous_comparable(current)
    assert previous is not None and previous.label == "a"


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
    common = [
        "-u",
        "8",
        "-r",
        "8",
        "-t",
        "10s",
        "--autoquit",
        "0",
        "--pacing",
        "0.3",
        "--user-pool",
        "8",
        "--results-db",
        str(db),
    ]
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
    (gate_line,) = [line for line in master_log.splitlines() if "regression against base:" in line]
    assert "POST /runs/[id]/samples" in gate_line

    # Everything Locust counted is in the store, for both runs.
    store = ResultsStore(db)
    for label in ("base", "slow"):
        info = store.run(label)
        assert info is not None and info.spawned_at is not None and info.stopped_at is not None
        assert store.count(info.id) == locust_total(tmp_path / label), label

    # The verdict, in the JSON next to the report, on stdout and in the HTML section.
    result = json.loads((tmp_path / "slow.compare.json").read_text())
    assert result["baseline"]["label"] == "base"
    verdicts = {(e["method"], e["name"]): e for e in result["endpoints"]}
    assert verdicts[SLOWED]["verdict"] == REGRESSION
    assert verdicts[SLOWED]["change"]["p50"] > 1.0
    assert "POST /runs/[id]/samples" in result["regressions"]
    assert "regression" in master_log and "against baseline 'base'" in master_log
    page = html.read_text()
    assert 'id="loadwatch-baseline"' in page and "<svg" in page and "regression" in page
    chromium_screenshot(f"file://{html}", ARTIFACTS / "baseline-report.png", "1400,5200")
    assert (ARTIFACTS / "baseline-report.png").stat().st_size > 10_000

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
    missing = subprocess.run([*cli, "slow", "nope"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no run labelled 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr

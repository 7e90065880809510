"""loadkit recording into the loadwatch service (--results-url), as a team runs it: two
masters at once into one service, a third process with only the URL and a read token
that lists and compares their runs (and gets SQLite's verdict), a service stopped for
10 s mid-run that loses no timing, the machine under test's CPU beside each run, and bad
input refused in one line before anything is written."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from loadkit.cli import list_runs
from loadkit.core.records import Batch
from loadkit.store.service import ServiceStore

from tests.live import ROOT, Service, free_port, locust_master_args, running_service, stop
from tests.loadkit.conftest import service_where, user_token
from tests.loadkit.test_any_locustfile import COUNTER, counter_site

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("LOADWATCH_", "LOADKIT_"))}


def locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(COUNTER / "locustfile.py"), *args]


def headless(host: str, seconds: int) -> list[str]:
    """A headless test of 6 users on ``host`` for ``seconds``, no exporter port."""
    return [
        *("--headless", "-u", "6", "-r", "6", "-t", f"{seconds}s", "--host", host),
        *("--exporter-port", "0"),
    ]


@contextmanager
def master_and_worker(
    folder: Path, host: str, seconds: int, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A headless master and one worker of the counter's locustfile, on 127.0.0.1."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with (folder / "master.log").open("wb") as log:
        master = subprocess.Popen(
            locust(*headless(host, seconds), *locust_master_args(port, 1), *extra),
            cwd=folder,
            env=CLEAN_ENV,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    with (folder / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
            cwd=folder,
            env=CLEAN_ENV,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield master
    finally:
        stop(master, timeout=90)
        stop(worker, timeout=30)


def compare_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadkit.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=CLEAN_ENV,
        cwd=ROOT,
    )


def stored_timings(master_log: str) -> int:
    line = next(x for x in master_log.splitlines() if "request timings stored for run" in x)
    return int(line.split("loadkit: ")[1].split()[0])


def test_two_masters_record_into_one_service_and_a_reader_compares_them(
    results_service: Service, tmp_path: Path
) -> None:
    username, write = user_token(results_service)
    _, read = user_token(results_service, "read", username)
    team = service_where(results_service, tmp_path / "a", write)
    with counter_site(free_port(), 1.0) as site:
        with (
            master_and_worker(
                tmp_path / "a", site, 8, *team.locust_args(), "--run-label", "nightly"
            ) as a,
            master_and_worker(
                tmp_path / "b", site, 8, *team.locust_args(), "--run-label", "nightly"
            ) as b,
        ):
            assert a.wait(timeout=120) == 0 and b.wait(timeout=120) == 0
    logs = [(tmp_path / side / "master.log").read_text() for side in "ab"]
    # A third process, holding only the URL and a read token.
    reader = service_where(results_service, tmp_path / "reader", read)
    listed = compare_cli(*reader.args(), "--list", "json")
    assert listed.returncode == 0, listed.stderr
    runs = {run["label"]: run for run in json.loads(listed.stdout)}
    assert set(runs) == {"nightly", "nightly-2"}  # the same label asked twice: no clash
    assert sorted(r["timings"] for r in runs.values()) == sorted(stored_timings(x) for x in logs)
    assert all(r["timings"] > 100 and r["stopped_at"] for r in runs.values())
    from_service = compare_cli(
        *reader.args(), "nightly-2", "nightly", "--json", str(tmp_path / "s.json")
    )
    assert from_service.returncode == 0, from_service.stderr
    # The same timings in SQLite give the same verdict.
    copied = compare_cli(*reader.args(), "--export-to", str(tmp_path / "copy.sqlite"))
    assert copied.returncode == 0 and "2 run(s)" in copied.stdout, copied.stderr
    from_file = compare_cli(
        "--db",
        str(tmp_path / "copy.sqlite"),
        "nightly-2",
        "nightly",
        "--json",
        str(tmp_path / "f.json"),
    )
    assert from_file.returncode == 0, from_file.stderr
    service_json, file_json = (json.loads((tmp_path / n).read_text()) for n in ("s.json", "f.json"))
    assert service_json["endpoints"] and service_json["endpoints"] == file_json["endpoints"]
    assert service_json["verdict"] == file_json["verdict"]
    # The read token recorded nothing, and the masters left nothing waiting on disk.
    assert not list(tmp_path.glob("*/spool/*"))


def test_the_service_stopped_for_10_s_mid_run_loses_no_timing(
    real_server: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "MONGODB_URL": real_server,
        "MONGODB_DB": f"loadkit-outage-{os.getpid()}",
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": "admin-password",
    }
    with running_service(env, port=port) as service:
        _, write = user_token(service)
    team = service_where(service, tmp_path / "m", write)
    with counter_site(free_port(), 1.0) as site:
        with running_service(env, port=port) as first:
            with master_and_worker(
                tmp_path / "m", site, 20, *team.locust_args(), "--run-label", "outage"
            ) as master:
                time.sleep(5)
                stop(first.process)  # the service goes down mid-run, for 10 s
                time.sleep(10)
                with running_service(env, port=port):
                    assert master.wait(timeout=120) == 0
                    log = (tmp_path / "m" / "master.log").read_text()
                    run = httpx.get(
                        f"{service.url}/load-tests",
                        params={"label": "outage"},
                        headers={"Authorization": f"Bearer {write}"},
                    ).json()[0]
    assert "timings wait on disk" in log and "answers again" in log
    assert run["status"] == "finished" and run["timings"] == stored_timings(log) > 500
    assert not list((tmp_path / "m" / "spool").glob("*"))


def test_the_machine_under_test_stands_beside_the_verdict(
    results_service: Service, tmp_path: Path
) -> None:
    """cpu-monitor records the machine under test with a tag; the load tests name it, and a
    CPU hog beside the second run is in its comparability box."""
    _, write = user_token(results_service)
    team = service_where(results_service, tmp_path, write)
    monitor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cpu_monitor",
            "--url",
            results_service.url,
            "--tag",
            "sut",
            "--interval",
            "0.5",
            "--duration",
            "60",
            "--quiet",
        ],
        env={**CLEAN_ENV, "CPU_MONITOR_TOKEN": write},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    args = [*team.locust_args(), "--monitor-tag", "sut", "--baseline", "previous"]
    try:
        with counter_site(free_port(), 1.0) as site:
            quiet = headless_run(tmp_path, site, "quiet", *args)
            # A hog per core through the second run's load (not after it: the recorder's
            # writer runs at the lowest priority, and a machine kept busy would hold up its
            # verdict, not the test's point).
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
            try:
                busy = headless_run(tmp_path, site, "busy", *args, until=hogs)
            finally:
                for hog in hogs:
                    stop(hog)
    finally:
        stop(monitor)
    assert quiet.returncode == 0 and busy.returncode == 0, busy.stdout[-2000:]
    found = json.loads((tmp_path / "busy.json").read_text())
    cpu = {side: found[side]["host_cpu_p95"] for side in ("current", "baseline")}
    assert cpu["current"] > 90 and cpu["baseline"] is not None, cpu
    assert any("machine under test" in w for w in found["warnings"]), found["warnings"]
    page = (tmp_path / "reports" / "busy.html").read_text()
    assert "machine under test CPU p50 / p95" in page


def headless_run(
    folder: Path, host: str, label: str, *extra: str, until: Sequence[subprocess.Popen[bytes]] = ()
) -> subprocess.CompletedProcess[str]:
    """A 6 s headless test of the counter; ``until``: processes stopped when its load ends."""
    seconds = 6
    with (folder / f"{label}.log").open("w") as log:
        process = subprocess.Popen(
            locust(
                *headless(host, seconds),
                *("--run-label", label, "--compare-json", str(folder / f"{label}.json")),
                *extra,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=CLEAN_ENV,
        )
        if until:
            time.sleep(seconds + 1)
            for other in until:
                stop(other)
        process.wait(timeout=120)
    output = (folder / f"{label}.log").read_text()
    return subprocess.CompletedProcess(process.args, process.returncode, output, "")


@pytest.mark.parametrize(
    ("case", "words", "tool"),
    [
        ("not-a-service", "is not a loadwatch service", "locust"),
        ("read-token", "may only read", "locust"),
        # The same opening of the store as Locust's, through the quicker command.
        ("unreachable", "does not answer", "loadwatch-compare"),
        ("no-token", "LOADKIT_RESULTS_TOKEN", "loadwatch-compare"),
    ],
)
def test_bad_results_urls_are_one_line_and_exit_2(
    results_service: Service, tmp_path: Path, case: str, words: str, tool: str
) -> None:
    username, write = user_token(results_service)
    _, read = user_token(results_service, "read", username)
    with counter_site(free_port(), 0.0) as site:
        url, token = {
            "not-a-service": (site, write),
            "unreachable": (f"http://127.0.0.1:{free_port()}", write),
            "read-token": (results_service.url, read),
            "no-token": (results_service.url, ""),
        }[case]
        env = {**CLEAN_ENV, **({"LOADKIT_RESULTS_TOKEN": token} if token else {})}
        command = [sys.executable, "-m", "loadkit.cli", "--results-url", url, "--list"]
        ran = subprocess.run(
            command
            if tool == "loadwatch-compare"
            else locust(
                "--headless",
                "-u",
                "1",
                "-t",
                "2s",
                "--host",
                site,
                "--exporter-port",
                "0",
                "--results-url",
                url,
                "--results-db",
                str(tmp_path / "r.sqlite"),
            ),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=env,
        )
    errors = [line for line in ran.stderr.splitlines() if "error" in line.lower()]
    assert ran.returncode == 2 and words in ran.stderr and "Traceback" not in ran.stderr, ran.stderr
    assert len(errors) == 1, errors
    listed = httpx.get(
        f"{results_service.url}/load-tests", headers={"Authorization": f"Bearer {write}"}
    )
    assert listed.json() == []  # nothing written
    assert not (tmp_path / "r.sqlite").exists()


def test_an_unknown_run_in_the_service_is_one_line_and_exit_2(
    results_service: Service, tmp_path: Path
) -> None:
    team = service_where(results_service, tmp_path, user_token(results_service, "read")[1])
    ran = compare_cli(*team.args(), "nope", "previous")
    assert (
        ran.returncode == 2
        and "no run labelled 'nope'" in ran.stderr
        and "Traceback" not in ran.stderr
    )
    assert len(ran.stderr.strip().splitlines()) == 1


def requests_of(store: ServiceStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the store asks the service from now on, as "METHOD path", in order."""
    asked: list[str] = []
    real = store.api.call

    def counted(method: str, path: str, **kwargs: Any) -> Any:
        asked.append(f"{method} {path}")
        return real(method, path, **kwargs)

    monkeypatch.setattr(store.api, "call", counted)
    return asked


def test_listing_a_teams_runs_asks_the_service_the_same_few_times_however_many(
    results_service: Service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--list`` of a service store: every closed run's timing count comes with the
    listing, so the service is asked the same few times for 1 run or 30; only a running
    run's count is asked for (its chunks keep coming)."""
    team = service_where(results_service, tmp_path, user_token(results_service)[1])
    store = team.open()
    assert isinstance(store, ServiceStore)
    endpoint = [("GET", "/a")]
    for n in range(1, 31):
        run, _ = store.start_run(f"closed-{n}", {})
        store.mark_spawned(run, 0.0)
        store.add_timings(run, Batch("w", endpoint, [0] * n, [1.0] * n, [5.0] * n, [True] * n), 0.0)
        store.finish_run(run, 3.0, None)
    running, _ = store.start_run("running", {})
    asked = requests_of(store, monkeypatch)
    assert list_runs(store, "json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["timings"] for row in listed] == [*range(1, 31), 0]
    assert asked == ["GET /load-tests", "GET /load-tests", f"GET /load-tests/runs/{running}"]


def test_a_closed_runs_timings_are_fetched_once_for_every_read(
    results_service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comparison reads each endpoint of a run in turn: once the run is closed (it takes
    no more timings), its timings come from the service once, and no read asks again
    whether they changed. A running run is asked each time (its chunks keep coming)."""
    team = service_where(results_service, tmp_path, user_token(results_service)[1])
    store = team.open()
    assert isinstance(store, ServiceStore)
    endpoints = [("GET", "/a"), ("GET", "/b")]
    run, _ = store.start_run("closed", {})
    store.mark_spawned(run, 0.0)
    store.add_timings(run, Batch("w", endpoints, [0, 1], [1.0, 2.0], [5.0, 6.0], [True] * 2), 0.0)
    store.finish_run(run, 3.0, None)
    asked = requests_of(store, monkeypatch)
    assert [list(store.response_times(run, e)) for e in endpoints] == [[5.0], [6.0]]
    assert store.endpoints(run) == endpoints
    assert asked == [f"GET /load-tests/runs/{run}", f"GET /load-tests/runs/{run}/chunks"]

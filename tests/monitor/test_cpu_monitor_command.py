"""cpu-monitor as a user runs it: a subprocess against a live service on 127.0.0.1."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cpu_monitor.spool import Spool, read_spool, write_spool

from tests.conftest import ADMIN
from tests.live import ROOT, Service, TcpProxy, free_port, running_service


def start_monitor(
    url: str, *args: str, cwd: Path, password: str = ADMIN[1]
) -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CPU_MONITOR_")},
        "CPU_MONITOR_USERNAME": ADMIN[0],
        "CPU_MONITOR_PASSWORD": password,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cpu_monitor", "--url", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=cwd,
    )


def recording(monitor: subprocess.Popen[str]) -> str:
    """Waits for the monitor's first line: logged in, run created, signals handled.
    Timing a test from this line, not from the process start, keeps a slow start harmless."""
    assert monitor.stdout is not None
    line = monitor.stdout.readline()
    if "Recording the CPU" not in line:
        out, err = monitor.communicate(timeout=30)
        pytest.fail(f"the monitor did not start: {line}{out}{err}")
    return line


def figure(report: str, label: str) -> str:
    match = re.search(rf"^\s+{re.escape(label)}:\s+(.*)$", report, re.MULTILINE)
    assert match, f"no {label!r} in the report:\n{report}"
    return match.group(1).strip()


def run_id_of(output: str) -> str:
    match = re.search(r"as run ([0-9a-f]{24})", output)
    assert match, output
    return match.group(1)


@pytest.fixture
def api(live_service: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_service.url, timeout=30) as client:
        client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        yield client


@pytest.fixture
def proxy(live_service: Service) -> Iterator[TcpProxy]:
    """A relay to the live service that a test can cut and restore; open at the start."""
    relay = TcpProxy(int(live_service.url.rsplit(":", 1)[1]))
    relay.open()
    yield relay
    relay.close()


def stored_seqs(api: httpx.Client, run_id: str) -> list[int]:
    seqs: list[int] = []
    after = -1
    while after is not None:
        page = api.get(f"/runs/{run_id}/samples", params={"after_seq": after}).json()
        seqs += [item["seq"] for item in page["items"]]
        after = page["next_after_seq"]
    return seqs


def keep_a_core_busy(seconds: float) -> None:
    """System CPU can read 0.0 % for seconds on an idle machine; spinning here makes it clear."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_run_until_ctrl_c(live_service: Service, api: httpx.Client, tmp_path: Path) -> None:
    monitor = start_monitor(
        live_service.url,
        "--interval",
        "0.2",
        "--display-interval",
        "0.5",
        "--threshold",
        "0",
        "--per-cpu",
        "--grafana-url",
        "http://grafana.test:3000",
        cwd=tmp_path,
    )
    first = recording(monitor)
    keep_a_core_busy(3)
    monitor.send_signal(signal.SIGINT)
    out, err = monitor.communicate(timeout=30)
    out = first + out
    assert monitor.returncode == 0, err
    assert "Traceback" not in err
    run_id = run_id_of(out)
    assert re.search(r"CPU +\d+\.\d%  average +\d+\.\d% over 0.5 s", out)
    taken = int(figure(out, "samples taken"))
    assert 10 <= taken <= 16
    assert int(figure(out, "samples sent")) == taken
    assert figure(out, "samples not delivered") == "0"

    run = api.get(f"/runs/{run_id}").json()
    assert run["status"] == "finished" and run["ended_at"]
    assert run["threshold"] == 0
    assert run["summary"]["sample_count"] == taken
    assert stored_seqs(api, run_id) == list(range(taken))
    assert figure(out, "CPU maximum") == f"{run['summary']['cpu_max']:.1f}%"
    assert figure(out, "CPU average") == f"{run['summary']['cpu_avg']:.1f}%"
    per_cpu = api.get(f"/runs/{run_id}/samples").json()["items"][0]["per_cpu"]
    assert per_cpu and len(per_cpu) == os.cpu_count()
    # Threshold 0: any CPU use is above it, so each crossing was posted as a run event.
    events = api.get(f"/runs/{run_id}/events").json()["items"]
    warnings = out.count("WARNING")
    assert warnings >= 1, out
    assert [e["name"] for e in events].count("threshold_exceeded") == warnings
    assert int(figure(out, "threshold events sent")) == len(events) == run["event_count"]
    link = figure(out, "dashboard")
    assert link.startswith(
        f"http://grafana.test:3000/d/loadwatch-cpu-runs/cpu-runs?var-run_id={run_id}&var-run={run_id}&from="
    )
    start_ms, end_ms = (int(part.split("=")[1]) for part in link.split("&")[2:])
    assert 2_000 < end_ms - start_ms < 30_000


def test_duration_stops_by_itself(live_service: Service, api: httpx.Client, tmp_path: Path) -> None:
    monitor = start_monitor(
        live_service.url,
        "--interval",
        "0.25",
        "--duration",
        "1.5",
        "--quiet",
        "--name",
        "timed",
        cwd=tmp_path,
    )
    out, err = monitor.communicate(timeout=30)
    assert monitor.returncode == 0, err
    assert " over 0.25 s" not in out and "over 5 s" not in out  # --quiet: no periodic lines
    assert figure(out, "samples taken") == "6"
    run = api.get(f"/runs/{run_id_of(out)}").json()
    assert run["name"] == "timed" and run["status"] == "finished"


def test_an_outage_loses_nothing(proxy: TcpProxy, api: httpx.Client, tmp_path: Path) -> None:
    monitor = start_monitor(proxy.url, "--interval", "0.1", "--batch-size", "5", cwd=tmp_path)
    first = recording(monitor)
    time.sleep(1.5)
    proxy.close()  # the service is unreachable for 3 s
    time.sleep(3)
    proxy.open()
    time.sleep(2.5)  # enough for the sender's backoff to retry
    monitor.send_signal(signal.SIGINT)
    out, err = monitor.communicate(timeout=30)
    out = first + out
    assert monitor.returncode == 0, out + err
    taken = int(figure(out, "samples taken"))
    assert taken >= 60
    assert figure(out, "samples not delivered") == "0"
    assert stored_seqs(api, run_id_of(out)) == list(range(taken))  # each exactly once
    assert not list(tmp_path.glob("*.jsonl"))


def test_down_at_exit_spools_and_resend_delivers(
    proxy: TcpProxy, api: httpx.Client, tmp_path: Path
) -> None:
    monitor = start_monitor(proxy.url, "--interval", "0.1", "--batch-size", "5", cwd=tmp_path)
    first = recording(monitor)
    time.sleep(1.5)
    proxy.close()
    time.sleep(1.0)
    monitor.send_signal(signal.SIGINT)
    out, err = monitor.communicate(timeout=40)  # it tries for 10 s, then spools
    out = first + out
    assert monitor.returncode == 3, out + err
    run_id = run_id_of(out)
    taken = int(figure(out, "samples taken"))
    undelivered = int(figure(out, "samples not delivered"))
    assert undelivered > 0
    (spool_path,) = tmp_path.glob("cpu-monitor-*.jsonl")
    assert str(spool_path.name) in out
    spool = read_spool(spool_path)
    assert len(spool.samples) == undelivered
    delivered = stored_seqs(api, run_id)
    assert sorted(delivered + [s["seq"] for s in spool.samples]) == list(range(taken))
    assert api.get(f"/runs/{run_id}").json()["status"] == "running"  # left for --resend

    proxy.open()
    resend = start_monitor(proxy.url, "--resend", str(spool_path), cwd=tmp_path)
    out, err = resend.communicate(timeout=30)
    assert resend.returncode == 0, out + err
    assert f"Delivered {undelivered} samples" in out
    assert stored_seqs(api, run_id) == list(range(taken))
    assert api.get(f"/runs/{run_id}").json()["status"] == "finished"
    assert not spool_path.exists()


def test_a_monitor_killed_with_sigkill_leaves_an_abandoned_run(tmp_path: Path) -> None:
    env = {"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1]}
    with running_service({**env, "RUN_SILENCE_TIMEOUT_SECONDS": "2"}) as service:
        monitor = start_monitor(service.url, "--interval", "0.2", cwd=tmp_path)
        run_id = run_id_of(recording(monitor))
        time.sleep(1)
        monitor.kill()  # no report, no finish: the run is left running
        monitor.communicate(timeout=10)
        with httpx.Client(base_url=service.url) as api:
            api.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
            assert api.get(f"/runs/{run_id}").json()["status"] == "running"
            deadline = time.monotonic() + 15
            while api.get(f"/runs/{run_id}").json()["status"] == "running":
                assert time.monotonic() < deadline, "the silent run was never closed"
                time.sleep(0.25)
            run = api.get(f"/runs/{run_id}").json()
            metrics = api.get("/metrics").text
    assert run["status"] == "abandoned" and run["ended_at"] is not None
    assert 'loadwatch_test_runs_total{status="abandoned"} 1.0' in metrics


def test_a_spool_for_a_run_the_service_lost_goes_into_a_new_run(
    live_service: Service, api: httpx.Client, tmp_path: Path
) -> None:
    """The service restarted on its embedded database: the spool's run is gone."""
    lost = "0123456789abcdef01234567"
    stamps = ["2026-01-02T03:04:05.000000+00:00", "2026-01-02T03:04:06.000000+00:00"]
    spool_path = tmp_path / f"cpu-monitor-{lost}.jsonl"
    write_spool(
        spool_path,
        Spool(
            url=live_service.url,
            run_id=lost,
            status="finished",
            samples=[
                {"seq": i, "timestamp": stamp, "cpu_percent": 10.0 + i}
                for i, stamp in enumerate(stamps)
            ],
            events=[],
            name="nightly",
            host="db-1",
            threshold=75.0,
        ),
    )
    plain = start_monitor(live_service.url, "--resend", str(spool_path), cwd=tmp_path)
    out, err = plain.communicate(timeout=60)
    assert plain.returncode != 0 and "Traceback" not in err
    assert "--new-run" in err and lost in err  # the error says what to do
    assert spool_path.exists()  # nothing lost
    again = start_monitor(live_service.url, "--resend", str(spool_path), "--new-run", cwd=tmp_path)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, out + err
    new_id = re.search(r"the new run ([0-9a-f]{24})", out)
    assert new_id, out
    run = api.get(f"/runs/{new_id.group(1)}").json()
    assert run["status"] == "finished" and run["host"] == "db-1" and run["threshold"] == 75.0
    assert run["name"] == "nightly (resent)"
    samples = api.get(f"/runs/{new_id.group(1)}/samples").json()["items"]
    assert [s["cpu_percent"] for s in samples] == [10.0, 11.0]
    assert samples[0]["timestamp"].startswith("2026-01-02T03:04:05")  # the original times
    (note,) = api.get(f"/runs/{new_id.group(1)}/events").json()["items"]
    assert lost in note["data"]["text"]
    assert not spool_path.exists()


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--threshold", "101"], ADMIN[1], "--threshold must be within 0-100"),
        (["--threshold", "-1"], ADMIN[1], "--threshold must be within 0-100"),
        (["--interval", "0"], ADMIN[1], "--interval must be > 0"),
        (["--interval", "-2"], ADMIN[1], "--interval must be > 0"),
        (["--interval", "fast"], ADMIN[1], "invalid float value"),
        (["--url", "localhost:8000"], ADMIN[1], "bad URL"),
        (["--url", "ftp://host"], ADMIN[1], "bad URL"),
        (["--url", "http://127.0.0.1:notaport"], ADMIN[1], "bad URL"),
        ([], "wrong-password", "login failed for 'admin'"),
        (["--resend", "/nonexistent/spool.jsonl"], ADMIN[1], "cannot read"),
        (["--new-run"], ADMIN[1], "--new-run goes with --resend"),
    ],
)
def test_bad_input_is_one_clear_line(
    live_service: Service, tmp_path: Path, args: list[str], password: str, message: str
) -> None:
    url = live_service.url
    if "--url" in args:
        url, args = args[1], []
    monitor = start_monitor(url, *args, cwd=tmp_path, password=password)
    _out, err = monitor.communicate(timeout=30)
    assert monitor.returncode in (1, 2)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cpu-monitor: error:"), err
    assert message in lines[0]


def test_unreachable_service(tmp_path: Path) -> None:
    monitor = start_monitor(f"http://127.0.0.1:{free_port()}", cwd=tmp_path)
    _, err = monitor.communicate(timeout=30)
    assert monitor.returncode == 1
    assert err.strip() == f"cpu-monitor: error: cannot reach the service at {monitor.args[4]}"


def test_sigterm_stops_like_ctrl_c(
    live_service: Service, api: httpx.Client, tmp_path: Path
) -> None:
    monitor = start_monitor(live_service.url, "--interval", "0.2", cwd=tmp_path)
    first = recording(monitor)
    time.sleep(1.5)
    monitor.send_signal(signal.SIGTERM)
    out, err = monitor.communicate(timeout=30)
    assert monitor.returncode == 0, err
    assert int(figure(out, "samples taken")) >= 5  # the same report as at Ctrl-C
    assert api.get(f"/runs/{run_id_of(first)}").json()["status"] == "finished"


def test_the_monitor_installs_on_its_own(tmp_path: Path) -> None:
    """`pip install ./monitor` in a clean environment: psutil and requests, nothing else."""
    uv = shutil.which("uv")
    command = [uv] if uv else [sys.executable, "-m", "uv"]
    venv = tmp_path / "venv"
    subprocess.run([*command, "venv", "-q", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [*command, "pip", "install", "-q", "--python", str(python), str(ROOT / "monitor")],
        check=True,
        timeout=300,
    )
    help_text = subprocess.run(
        [str(venv / "bin" / "cpu-monitor"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0 and "CPU_MONITOR_" in help_text.stdout
    installed = subprocess.run(
        [*command, "pip", "list", "--python", str(python), "--format", "freeze"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    names = {line.split("==")[0].lower() for line in installed.split()}
    assert {"cpu-monitor", "psutil", "requests"} <= names
    assert not names & {"fastapi", "beanie", "pydantic", "motor"}


def test_pid_mode_with_a_token_sees_the_busy_process_from_psutil_to_the_csv(
    live_service: Service, api: httpx.Client, tmp_path: Path
) -> None:
    """The proof a user wants of --pid: a child that keeps one core busy shows about one
    core of process CPU, while the machine's figures come along, through the API (with an
    API token instead of a password) into the CSV and the summary."""
    token = api.post("/auth/tokens", json={"name": "e2e", "scope": "write"}).json()["token"]
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.monotonic() + 20\nwhile time.monotonic() < end: pass",
        ]
    )
    try:
        env_free = {k: v for k, v in os.environ.items() if not k.startswith("CPU_MONITOR_")}
        monitor = subprocess.run(
            [
                sys.executable,
                "-m",
                "cpu_monitor",
                "--url",
                live_service.url,
                "--pid",
                str(busy.pid),
                "--interval",
                "0.5",
                "--display-interval",
                "1",
                "--duration",
                "4",
                "--mem-threshold",
                "0",
                # The CPU is never above 100 %: only the memory crossing is an event, however
                # busy the machine is besides the watched process.
                "--threshold",
                "100",
                "--grafana-url",
                "",
            ],
            env={**env_free, "CPU_MONITOR_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    finally:
        busy.kill()
        busy.wait()
    assert monitor.returncode == 0, monitor.stderr
    out = monitor.stdout
    assert f"and of process {busy.pid} with its children" in out
    assert re.search(r"process +\d+\.\d% +\d+\.\d MiB", out)  # the periodic line
    run_id = run_id_of(out)
    summary = api.get(f"/runs/{run_id}").json()["summary"]
    process_cpu = summary["fields"]["process_cpu_percent"]
    assert process_cpu["count"] == summary["sample_count"] >= 7
    assert 60 < process_cpu["avg"] <= 110, process_cpu  # one busy core
    assert figure(out, "process CPU (of one core)").startswith(f"avg {process_cpu['avg']:.1f}%")
    assert summary["fields"]["memory_used_percent"]["count"] == summary["sample_count"]
    rows = api.get(f"/runs/{run_id}/samples.csv").text.splitlines()
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(","), strict=True))
    assert float(last["process_rss_bytes"]) > 1_000_000 and float(last["load_1m"]) >= 0
    # Memory above 0 %: one crossing, posted as a run event.
    events = api.get(f"/runs/{run_id}/events").json()["items"]
    assert [e["name"] for e in events] == ["memory_threshold_exceeded"]
    assert "Memory" in out and "is above the threshold 0%" in out

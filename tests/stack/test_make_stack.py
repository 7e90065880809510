"""`make stack`: the stack without Docker starts, every part answers, Prometheus has every
target up, and Ctrl-C leaves no process and no port behind."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.live import ROOT, wait_until_ok

PORTS = {"service": 8000, "Locust UI": 8089, "exporter": 9646, "Prometheus": 9090, "workers": 5557}


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_stack_comes_up_and_goes_down_cleanly(tmp_path: Path) -> None:
    busy = [f"{name} :{port}" for name, port in PORTS.items() if not port_is_free(port)]
    assert not busy, f"the stack's ports are taken: {busy}"
    log = (tmp_path / "stack.log").open("wb")
    stack = subprocess.Popen(
        ["./stack.sh"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Results and the monitor's spool in the test's own folder, never the user's.
        env={
            **os.environ,
            "MONITOR": "1",
            "LOADWATCH_RESULTS": str(tmp_path / "results"),
            "CPU_MONITOR_SPOOL_DIR": str(tmp_path),
        },
        start_new_session=True,
    )
    try:
        wait_until_ok("http://127.0.0.1:8000/readyz", timeout=60, process=stack)
        assert (tmp_path / "results").is_dir()
        wait_until_ok("http://127.0.0.1:8089/", timeout=60, process=stack)
        wait_until_ok("http://127.0.0.1:9646/metrics", timeout=60, process=stack)
        wait_until_ok("http://127.0.0.1:9090/-/ready", timeout=60, process=stack)
        deadline = time.monotonic() + 60
        while True:
            targets = httpx.get("http://127.0.0.1:9090/api/v1/targets").json()["data"][
                "activeTargets"
            ]
            health = {t["labels"]["job"]: t["health"] for t in targets}
            if set(health) == {"rest_service", "locust", "prometheus"} and set(health.values()) == {
                "up"
            }:
                break
            assert time.monotonic() < deadline, f"targets not all up: {health}"
            time.sleep(1)
        # The optional cpu-monitor records into the service (its first batch takes ~10 s).
        deadline = time.monotonic() + 30
        while "loadwatch_cpu_usage_percent{" not in httpx.get("http://127.0.0.1:8000/metrics").text:
            assert time.monotonic() < deadline, "cpu-monitor's samples never arrived"
            time.sleep(1)
    finally:
        stack.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            stack.wait(60)
        finally:
            log.close()
    output = (tmp_path / "stack.log").read_text(errors="replace")
    for url in (
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8089",
        "http://127.0.0.1:9646/metrics",
        "http://127.0.0.1:9090",
    ):
        assert url in output, f"{url} is not printed"
    time.sleep(1)
    leftovers = [f"{name} :{port}" for name, port in PORTS.items() if not port_is_free(port)]
    assert not leftovers, f"ports still taken after Ctrl-C: {leftovers}\n{output[-3000:]}"
    still_running = subprocess.run(["pgrep", "-s", str(stack.pid)], capture_output=True, text=True)
    assert not still_running.stdout.strip(), f"processes left behind: {still_running.stdout}"

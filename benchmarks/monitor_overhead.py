"""The cost of cpu-monitor itself: CPU, memory and schedule drift over a minute.

Runs `cpu-monitor --interval 1` for --seconds (default 60) against the service on the
embedded database, in two variants one after the other: everything on (every figure, and
the service's process tree with --pid), and the total CPU only (--collect none). It
measures each from outside:
- its CPU time over the run, as % of one core (target < 1 %);
- its peak RSS (target < 60 MB);
- the drift of its schedule: the largest |(t_k - t_1) - (k - 1) * interval| over the sample
  timestamps stored in the API (target < 50 ms).
Run from the repository root as a module; prints one JSON line.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from typing import Any

import httpx
import psutil

from benchmarks.loadgen import ADMIN, SERVICE_ENV
from tests.live import running_service


def measure(url: str, seconds: float, interval: float, options: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "CPU_MONITOR_USERNAME": ADMIN["username"],
        "CPU_MONITOR_PASSWORD": ADMIN["password"],
    }
    command = [
        sys.executable,
        "-m",
        "cpu_monitor",
        "--url",
        url,
        "--quiet",
        "--interval",
        str(interval),
        "--duration",
        str(seconds),
        *options,
    ]
    monitor = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    process = psutil.Process(monitor.pid)
    time.sleep(2.0)  # past start-up: imports and login are not the steady state
    cpu_start, wall_start = process.cpu_times(), time.monotonic()
    peak_rss = 0
    while monitor.poll() is None:
        try:
            peak_rss = max(peak_rss, process.memory_info().rss)
            cpu_now, wall_now = process.cpu_times(), time.monotonic()
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    out, _ = monitor.communicate()
    busy = (cpu_now.user + cpu_now.system) - (cpu_start.user + cpu_start.system)
    run_id = out.split("as run ", 1)[1].split()[0]
    with httpx.Client(base_url=url) as client:
        client.post("/auth/login", json=ADMIN)
        items = client.get(f"/runs/{run_id}/samples", params={"limit": 10_000}).json()["items"]
    stamps = [datetime.fromisoformat(item["timestamp"]).timestamp() for item in items]
    drift = max(abs((t - stamps[0]) - k * interval) for k, t in enumerate(stamps))
    return {
        "options": " ".join(options),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seconds": seconds,
        "interval": interval,
        "samples": len(stamps),
        "cpu_percent_of_one_core": round(100 * busy / (wall_now - wall_start), 3),
        "peak_rss_mb": round(peak_rss / 2**20, 1),
        "max_drift_ms": round(drift * 1000, 2),
        "drift_resolution_ms": 1,  # the service keeps timestamps to the millisecond
        "exit_code": monitor.returncode,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with running_service(SERVICE_ENV) as service:
        everything = ["--pid", str(service.process.pid)]
        for options in (everything, ["--collect", "none"]):
            figures = measure(service.url, args.seconds, args.interval, options)
            print(json.dumps({"benchmark": "monitor_overhead", **figures}), flush=True)

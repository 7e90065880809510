"""Locust runs for the benchmarks: a trivial endpoint, and one headless run against it."""

import csv
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.live import ROOT, free_port, locust_master_args, stop, wait_until_ok

LOCUSTFILE = ROOT / "benchmarks" / "capacity_locustfile.py"


@contextmanager
def trivial_target() -> Iterator[str]:
    """benchmarks/trivial_server.py in a process of its own."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.trivial_server:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
    )
    target = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(target)
        yield target
    finally:
        stop(server)


def locust_rate(
    target: str,
    seconds: int,
    workdir: Path,
    args: list[str],
    hooks: bool = True,
    workers: int = 0,
    scrape_exporter: bool = False,
) -> dict[str, Any]:
    """One headless run of 50 users hammering the target: local mode, or a master and
    ``workers`` workers. Returns Locust's own total request count and rate."""
    env = {**os.environ, "LOADKIT_HOOKS": "1" if hooks else "0"}
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    command = [
        *base,
        "--headless",
        "-u",
        "50",
        "-r",
        "50",
        "-t",
        f"{seconds}s",
        "-H",
        target,
        "--csv",
        str(workdir / "run"),
        "--only-summary",
        *args,
    ]
    exporter = free_port()
    if hooks:
        command += [
            "--pacing",
            "0.000001",
            "--exporter-port",
            str(exporter),
            "--exporter-host",
            "127.0.0.1",
        ]
    processes = []
    master_port = free_port()
    if workers:
        command += locust_master_args(master_port, workers)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    master = subprocess.Popen(command, cwd=ROOT, env=env, **quiet)
    for _ in range(workers):
        processes.append(
            subprocess.Popen(
                [
                    *base,
                    "--worker",
                    "--master-host",
                    "127.0.0.1",
                    "--master-port",
                    str(master_port),
                ],
                cwd=ROOT,
                env=env,
                **quiet,
            )
        )
    scrapes = 0
    done = threading.Event()

    def scrape() -> None:
        nonlocal scrapes
        while not done.wait(1.0):
            try:
                httpx.get(f"http://127.0.0.1:{exporter}/metrics", timeout=2)
                scrapes += 1
            except httpx.HTTPError:
                pass

    if hooks and scrape_exporter:
        threading.Thread(target=scrape, daemon=True).start()
    watched = psutil.Process(master.pid)
    cpu = 0.0
    while master.poll() is None:
        try:
            times = watched.cpu_times()
            cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    master.wait(seconds + 120)
    done.set()
    for process in processes:
        process.wait(30)
    with (workdir / "run_stats.csv").open() as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "req_per_s": round(float(total["Requests/s"]), 1),
        "scrapes": scrapes,
        "master_cpu_s": round(cpu, 2),
    }

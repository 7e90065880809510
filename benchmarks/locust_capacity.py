"""The request rate one Locust process sustains against a trivial local endpoint, with and
without loadkit's hooks (exporter, pacing, credential and threshold listeners).

The endpoint (benchmarks/trivial_server.py) runs in its own process; Locust runs headless
in local mode (one process: users, exporter, listeners), 50 users, pacing ~0, and the
exporter is scraped every second while it runs. Rounds alternate the two variants; the
figure is the ratio of their request counts. Target: the hooks cost < 5 % (ratio > 0.95).
Run from the repository root as a module; prints one JSON line.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.live import ROOT, free_port, stop, wait_until_ok


def one_run(target: str, hooks: bool, seconds: int, workdir: Path) -> dict[str, Any]:
    env = {**os.environ, "LOADKIT_HOOKS": "1" if hooks else "0"}
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "benchmarks" / "capacity_locustfile.py"),
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
    ]
    exporter = free_port()
    if hooks:
        # --user-pool 0: no pool to create, the trivial endpoint has no users API
        command += [
            "--pacing",
            "0.000001",
            "--user-pool",
            "0",
            "--exporter-port",
            str(exporter),
            "--exporter-host",
            "127.0.0.1",
        ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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

    scraper = threading.Thread(target=scrape, daemon=True)
    if hooks:
        scraper.start()
    process.wait(seconds + 60)
    done.set()
    with (workdir / "run_stats.csv").open() as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "hooks": hooks,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "req_per_s": round(float(total["Requests/s"])),
        "scrapes": scrapes,
    }


def main(seconds: int, rounds: int) -> dict[str, Any]:
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
    runs: list[dict[str, Any]] = []
    try:
        wait_until_ok(target)
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):
                for hooks in (True, False):
                    runs.append(one_run(target, hooks, seconds, Path(tmp)))
    finally:
        stop(server)
    with_hooks = sum(r["requests"] for r in runs if r["hooks"])
    without = sum(r["requests"] for r in runs if not r["hooks"])
    return {"ratio_with_to_without": round(with_hooks / without, 3), "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    started = time.monotonic()
    figures = main(args.seconds, args.rounds)
    print(json.dumps({"benchmark": "locust_capacity", **figures}))

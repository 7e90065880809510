"""Single-sample writes from Locust: 50 users that only write (benchmarks/writes_locustfile.py,
FastHttpUser, no wait), headless for --seconds, against the service on the embedded
database.

--tree DIR serves another checkout (with its own venv, as `make bench-compare` prepares
its base commit) instead of this one; Locust is always this tree's. Prints Locust's
request rate, median and 99th percentile, the failures, the service's CPU time per
request, and beside them the load average and one bcrypt check at 12 rounds. Run from
the repository root as a module; prints a table and one JSON line.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil

from benchmarks.loadgen import ADMIN, SERVICE_ENV
from benchmarks.storage import bcrypt_ms
from tests.live import ROOT, running_service

LOCUSTFILE = ROOT / "benchmarks" / "writes_locustfile.py"
USERS = 50


def locust_writes(tree: Path, seconds: int) -> dict[str, Any]:
    with running_service(SERVICE_ENV, tree=tree) as service, tempfile.TemporaryDirectory() as tmp:
        served = psutil.Process(service.process.pid)
        before = served.cpu_times()
        env = {
            **os.environ,
            "BENCH_USERNAME": ADMIN["username"],
            "BENCH_PASSWORD": ADMIN["password"],
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                str(USERS),
                "-r",
                str(USERS),
                "-t",
                f"{seconds}s",
                "-H",
                service.url,
                "--csv",
                f"{tmp}/run",
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=seconds + 120,
        )
        after = served.cpu_times()
        with Path(f"{tmp}/run_stats.csv").open() as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
        with Path(f"{tmp}/run_failures.csv").open() as handle:
            failures = [
                f"{row['Occurrences']} x {row['Method']} {row['Name']}: {row['Error']}"
                for row in csv.DictReader(handle)
            ]
    writes = rows["/runs/[id]/samples"]
    count = int(writes["Request Count"])
    cpu = (after.user + after.system) - (before.user + before.system)
    return {
        "users": USERS,
        "writes": count,
        "writes_per_s": round(float(writes["Requests/s"]), 1),
        "p50_ms": float(writes["50%"]),
        "p99_ms": float(writes["99%"]),
        "failures": int(rows["Aggregated"]["Failure Count"]),
        "failure_kinds": failures[:5],
        "service_cpu_us_per_write": round(cpu / count * 1e6, 1) if count else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args()
    yardstick = bcrypt_ms()
    figures = locust_writes(args.tree.resolve(), args.seconds)
    load = [round(x, 2) for x in os.getloadavg()]
    for key, value in figures.items():
        if key != "failure_kinds":
            print(f"{key:<28} {value:>10}")
    for kind in figures["failure_kinds"]:
        print(f"failed: {kind}")
    print(f"load average {load}, one bcrypt check at 12 rounds: {yardstick} ms")
    print(
        json.dumps(
            {
                "benchmark": "locust_writes",
                **figures,
                "load_average": load,
                "bcrypt_12_ms": yardstick,
            }
        )
    )

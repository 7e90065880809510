"""A burst of logins at full bcrypt cost, and what it does to everybody else's writes.

Starts the service (embedded database, BCRYPT_ROUNDS=12 as in production) and 50 users.
Then 10 logged-in writers post one sample each every --write-interval seconds (paced, as
monitors and load-test users are), for the whole benchmark; after --quiet seconds, 50 new
clients log in at once. It reports:
- how long the 50 logins took, against "the bcrypt limit": 50 password checks divided
  among the cores, each at the single-threaded cost of one check measured here first;
- the writers' p50 and p99 latency before the burst and while it lasted.
With --one-account the 50 logins are all of one account from one address, as a Locust suite
that shares a login makes them: the throttle lets them through in turns, never with a 429.
Targets (2 cores): writes during the burst p99 < 250 ms; all logins within 1.3 x the limit.
Run from the repository root as a module; prints one JSON line.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import bcrypt

from benchmarks.loadgen import ADMIN, SERVICE_ENV, client_session, client_sessions
from tests.live import running_service

USERS = 50
WRITERS = 10
ROUNDS = 12
PASSWORD = "burst-password"


def bcrypt_seconds(rounds: int) -> float:
    """One password check at this cost on one core of this machine (median of 5)."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        bcrypt.checkpw(PASSWORD.encode(), hashed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def percentiles(latencies: list[float]) -> dict[str, float]:
    if len(latencies) < 2:
        return {"count": len(latencies)}
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "count": len(latencies),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


async def burst(url: str, quiet: float, interval: float, one_account: bool) -> dict[str, Any]:
    admin = await client_session(url)
    names = [f"burst-{0 if one_account else i:02d}" for i in range(USERS)]
    for name in sorted(set(names)):
        async with admin.post("/users", json={"username": name, "password": PASSWORD}) as r:
            assert r.status in (201, 409), await r.text()
    await admin.close()
    writers = await client_sessions(url, WRITERS)
    runs = []
    for session in writers:
        async with session.post("/runs", json={"name": "writer"}) as response:
            runs.append((await response.json())["id"])
    writes: list[tuple[float, float]] = []  # (start, latency)
    stop = asyncio.Event()
    base = datetime.now(UTC) - timedelta(hours=1)

    async def write(session: aiohttp.ClientSession, run: str) -> None:
        seq = 0
        next_start = time.perf_counter()
        while not stop.is_set():
            next_start += interval
            await asyncio.sleep(max(0.0, next_start - time.perf_counter()))
            sample = {
                "seq": seq,
                "timestamp": (base + timedelta(milliseconds=seq)).isoformat(),
                "cpu_percent": 50.0,
            }
            started = time.perf_counter()
            async with session.post(f"/runs/{run}/samples", json={"samples": [sample]}) as r:
                assert r.status == 201, await r.text()
            writes.append((started, time.perf_counter() - started))
            seq += 1

    async def login(name: str) -> float:
        async with aiohttp.ClientSession(base_url=url) as session:
            async with session.post(
                "/auth/login", json={"username": name, "password": PASSWORD}
            ) as response:
                assert response.status == 200, await response.text()
        return time.perf_counter()

    tasks = [asyncio.create_task(write(s, r)) for s, r in zip(writers, runs, strict=True)]
    await asyncio.sleep(quiet)
    burst_start = time.perf_counter()
    done = await asyncio.gather(*(login(name) for name in names))
    burst_end = max(done)
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*tasks)
    for session in writers:
        await session.close()
    before = [lat for start, lat in writes if start < burst_start]
    during = [lat for start, lat in writes if burst_start <= start < burst_end]
    return {
        "logins_seconds": round(burst_end - burst_start, 2),
        "writes_before": percentiles(before),
        "writes_during": percentiles(during),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", type=float, default=3.0, help="seconds of writes before")
    parser.add_argument("--write-interval", type=float, default=0.05, help="per writer")
    parser.add_argument(
        "--one-account", action="store_true", help="the 50 logins of one account, one address"
    )
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    one = bcrypt_seconds(ROUNDS)
    limit = USERS * one / cores
    env = {**SERVICE_ENV, "BCRYPT_ROUNDS": str(ROUNDS)}
    with running_service(env) as service:
        figures = asyncio.run(burst(service.url, args.quiet, args.write_interval, args.one_account))
    figures.update(
        {
            "benchmark": "login_burst",
            "one_account": args.one_account,
            "cores": cores,
            "bcrypt_check_seconds": round(one, 3),
            "bcrypt_limit_seconds": round(limit, 2),
            "logins_to_limit": round(figures["logins_seconds"] / limit, 2),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "admin": ADMIN["username"],
        }
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

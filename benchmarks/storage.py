"""Sample storage on the embedded database: reads, ingest, memory, and what a busy store
does to the event loop.

Starts `python -m rest_service serve` on a free port (BCRYPT_ROUNDS=4), then:
  1. reads a whole 11,103-sample run and a 50,000-sample run: JSON pages of 1,000 and of
     10,000, and the CSV; the median of 5 reads each;
  2. ingest: 1,000-sample batches from 50 clients (samples/s), and one-sample POSTs for
     5 s (req/s);
  3. fills the store to 1,000,000 samples and reports the service's RSS per stored sample;
  4. with them stored, probes /healthz every 10 ms on a connection of its own while, one
     at a time: the summary of a running 100,000-sample run (twice: all blocks new, then
     one block new), its CSV, deleting it, and deleting a 1-sample run. Each operation's
     time, and the probe's p99 and worst delay during it.
Beside the figures: the load average, and one bcrypt check at 12 rounds on this machine,
as a yardstick of its speed. Run from the repository root as a module; prints a table and
one JSON line.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt

from benchmarks.loadgen import benchmarked_service, client_session, client_sessions, read_pages

CLIENTS = 50
STORE_TOTAL = 1_000_000
BIG_RUN = 100_000
BASE = datetime.now(UTC) - timedelta(days=2)


def bcrypt_ms() -> float:
    hashed = bcrypt.hashpw(b"yardstick", bcrypt.gensalt(12))
    started = time.perf_counter()
    bcrypt.checkpw(b"yardstick", hashed)
    return round((time.perf_counter() - started) * 1000, 1)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def batch(start: int, end: int) -> dict[str, Any]:
    return {
        "samples": [
            {
                "seq": seq,
                "timestamp": (BASE + timedelta(milliseconds=seq * 10)).isoformat(),
                "cpu_percent": float(seq % 100),
            }
            for seq in range(start, end)
        ]
    }


async def new_run(session: aiohttp.ClientSession, name: str) -> str:
    async with session.post("/runs", json={"name": name, "threshold": 80}) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


async def fill(session: aiohttp.ClientSession, run_id: str, size: int, step: int = 10_000) -> None:
    for start in range(0, size, step):
        body = batch(start, min(start + step, size))
        async with session.post(f"/runs/{run_id}/samples", json=body) as response:
            assert response.status == 201, await response.text()


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def read_figures(session: aiohttp.ClientSession, size: int) -> dict[str, float]:
    run_id = await new_run(session, f"read-{size}")
    await fill(session, run_id, size)

    async def pages(limit: int) -> None:
        assert await read_pages(session, run_id, limit) == size

    async def as_csv() -> None:
        async with session.get(f"/runs/{run_id}/samples.csv") as response:
            assert (await response.text()).count("\n") - 1 == size

    figures = {}
    for name, call in (
        ("pages_1000", lambda: pages(1_000)),
        ("pages_10000", lambda: pages(10_000)),
        ("csv", as_csv),
    ):
        times = [await timed(call) for _ in range(5)]
        figures[f"read_{size}_{name}_ms"] = round(statistics.median(times) * 1000, 1)
    async with session.delete(f"/runs/{run_id}") as response:
        assert response.status == 204
    return figures


async def ingest_figures(url: str) -> dict[str, Any]:
    sessions = await client_sessions(url, CLIENTS)
    try:
        runs = [await new_run(s, f"ingest-{i}") for i, s in enumerate(sessions)]
        batches_each = 4

        async def batches(session: aiohttp.ClientSession, run_id: str) -> None:
            for b in range(batches_each):
                body = batch(b * 1_000, (b + 1) * 1_000)
                async with session.post(f"/runs/{run_id}/samples", json=body) as response:
                    assert response.status == 201

        elapsed = await timed(
            lambda: asyncio.gather(*(batches(s, r) for s, r in zip(sessions, runs, strict=True)))
        )
        per_s = CLIENTS * batches_each * 1_000 / elapsed
        singles = 0
        deadline = time.perf_counter() + 5

        async def single(session: aiohttp.ClientSession, run_id: str) -> None:
            nonlocal singles
            seq = 100_000
            while time.perf_counter() < deadline:
                async with session.post(f"/runs/{run_id}/samples", json=batch(seq, seq + 1)) as r:
                    assert r.status == 201
                seq += 1
                singles += 1

        started = time.perf_counter()
        await asyncio.gather(*(single(s, r) for s, r in zip(sessions, runs, strict=True)))
        single_per_s = singles / (time.perf_counter() - started)
        for session, run_id in zip(sessions, runs, strict=True):
            async with session.delete(f"/runs/{run_id}") as response:
                assert response.status == 204
    finally:
        for session in sessions:
            await session.close()
    return {
        "batched_samples_per_s": round(per_s),
        "single_posts_per_s": round(single_per_s),
    }


async def under_probe(url: str, call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    """``call``'s time, and how late /healthz answered meanwhile (probed every 10 ms)."""
    delays: list[float] = []
    done = asyncio.Event()
    async with aiohttp.ClientSession(base_url=url) as probe:

        async def probing() -> None:
            while not done.is_set():
                started = time.perf_counter()
                async with probe.get("/healthz") as response:
                    await response.read()
                delays.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        task = asyncio.create_task(probing())
        await asyncio.sleep(0.05)
        elapsed = await timed(call)
        done.set()
        await task
    cuts = (
        statistics.quantiles(delays, n=100, method="inclusive") if len(delays) > 1 else delays * 99
    )
    return {
        "ms": round(elapsed * 1000, 1),
        "healthz_p99_ms": round(cuts[98] * 1000, 1),
        "healthz_max_ms": round(max(delays) * 1000, 1),
    }


async def busy_store_figures(url: str, pid: int) -> dict[str, Any]:
    session = await client_session(url)
    try:
        before = rss_bytes(pid)
        big = await new_run(session, "running-100k")
        await fill(session, big, BIG_RUN)
        for i in range((STORE_TOTAL - BIG_RUN) // BIG_RUN):
            await fill(session, await new_run(session, f"finished-{i}"), BIG_RUN)
        small = await new_run(session, "one-sample")
        await fill(session, small, 1)
        per_sample = (rss_bytes(pid) - before) / (STORE_TOTAL + 1)

        async def get(path: str) -> None:
            async with session.get(path) as response:
                assert response.status == 200
                await response.read()

        async def delete(run_id: str) -> None:
            async with session.delete(f"/runs/{run_id}") as response:
                assert response.status == 204

        operations = {"summary_all_blocks_new": await under_probe(url, lambda: get(f"/runs/{big}"))}
        async with session.post(f"/runs/{big}/samples", json=batch(BIG_RUN, BIG_RUN + 1)) as r:
            assert r.status == 201
        operations["summary_one_block_new"] = await under_probe(url, lambda: get(f"/runs/{big}"))
        operations["csv_100k"] = await under_probe(url, lambda: get(f"/runs/{big}/samples.csv"))
        operations["delete_100k"] = await under_probe(url, lambda: delete(big))
        operations["delete_1_sample"] = await under_probe(url, lambda: delete(small))
    finally:
        await session.close()
    return {"rss_bytes_per_stored_sample": round(per_sample), "operations": operations}


async def main(url: str, pid: int, only: str) -> dict[str, Any]:
    if only == "ingest":
        return {"ingest": await ingest_figures(url)}
    if only == "reads":
        session = await client_session(url)
        try:
            reads = {**await read_figures(session, 11_103), **await read_figures(session, 50_000)}
        finally:
            await session.close()
        return {"reads": reads, "ingest": await ingest_figures(url)}
    session = await client_session(url)
    try:
        reads = {**await read_figures(session, 11_103), **await read_figures(session, 50_000)}
    finally:
        await session.close()
    return {
        "reads": reads,
        "ingest": await ingest_figures(url),
        "busy_store": await busy_store_figures(url, pid),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=("ingest", "reads"),
        default="",
        help="ingest alone, or reads and ingest without the busy store",
    )
    parser.add_argument("--real-server", action="store_true", help="FerretDB or MONGODB_URL")
    args = parser.parse_args()
    yardstick = bcrypt_ms()
    with benchmarked_service(args.real_server) as service:
        figures = asyncio.run(main(service.url, service.process.pid, args.only))
    load = [round(x, 2) for x in os.getloadavg()]
    for key, value in {**figures.get("reads", {}), **figures["ingest"]}.items():
        print(f"{key:<34} {value:>10}")
    busy = figures.get("busy_store", {"rss_bytes_per_stored_sample": "-", "operations": {}})
    print(f"{'rss_bytes_per_stored_sample':<34} {busy['rss_bytes_per_stored_sample']:>10}")
    for name, op in busy["operations"].items():
        print(
            f"{name:<34} {op['ms']:>8} ms   /healthz p99 {op['healthz_p99_ms']} ms, "
            f"max {op['healthz_max_ms']} ms"
        )
    print(f"load average {load}, one bcrypt check at 12 rounds: {yardstick} ms")
    print(
        json.dumps(
            {"benchmark": "storage", **figures, "load_average": load, "bcrypt_12_ms": yardstick}
        )
    )

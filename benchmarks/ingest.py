"""Ingest and read throughput of the service on the embedded database (or, with
--real-server, on FerretDB or MONGODB_URL).

Starts `python -m rest_service serve` on a free port (BCRYPT_ROUNDS=4: logins are not
what is measured), then with 50 concurrent clients, each on its own keep-alive
connection and its own run:
  1. POSTs of one sample for --seconds: req/s, p50/p99 latency, errors;
  2. POSTs of 1,000-sample batches: samples/s;
  3. reads a 50,000-sample run page by page (limit 10,000 and the default 1,000).
Run from the repository root as a module; prints one JSON line. Targets on a 2-core
machine: >= 1,000 req/s with 0 errors and p99 < 100 ms; >= 50,000 samples/s; the
50,000-sample run read in < 5 s.
"""

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from benchmarks.loadgen import benchmarked_service, client_sessions, read_pages, run_for

CLIENTS = 50


def stamp(i: int, base: datetime) -> str:
    return (base + timedelta(milliseconds=i)).isoformat()


async def new_run(session: aiohttp.ClientSession, name: str) -> str:
    async with session.post("/runs", json={"name": name, "threshold": 80}) as response:
        assert response.status == 201
        return str((await response.json())["id"])


async def single_posts(sessions: list[aiohttp.ClientSession], seconds: float) -> dict[str, Any]:
    base = datetime.now(UTC) - timedelta(days=1)
    runs = [await new_run(s, f"single-{i}") for i, s in enumerate(sessions)]
    run_of = dict(zip(map(id, sessions), runs, strict=True))

    async def post_one(session: aiohttp.ClientSession, seq: int) -> bool:
        body = {"samples": [{"seq": seq, "timestamp": stamp(seq, base), "cpu_percent": 42.0}]}
        async with session.post(f"/runs/{run_of[id(session)]}/samples", json=body) as response:
            await response.read()
            return response.status == 201

    return await run_for(sessions, seconds, post_one)


async def batch_posts(sessions: list[aiohttp.ClientSession], batches_each: int) -> dict[str, Any]:
    base = datetime.now(UTC) - timedelta(days=1)
    errors = 0

    async def worker(session: aiohttp.ClientSession, run_id: str) -> None:
        nonlocal errors
        for b in range(batches_each):
            body = {
                "samples": [
                    {"seq": seq, "timestamp": stamp(seq, base), "cpu_percent": 42.0}
                    for seq in range(b * 1000, (b + 1) * 1000)
                ]
            }
            async with session.post(f"/runs/{run_id}/samples", json=body) as response:
                await response.read()
                if response.status != 201:
                    errors += 1

    runs = [await new_run(s, f"batch-{i}") for i, s in enumerate(sessions)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(s, r) for s, r in zip(sessions, runs, strict=True)))
    elapsed = time.perf_counter() - started
    total = len(sessions) * batches_each * 1000
    return {"samples": total, "samples_per_s": round(total / elapsed), "errors": errors}


async def read_run(session: aiohttp.ClientSession, size: int) -> dict[str, Any]:
    base = datetime.now(UTC) - timedelta(days=1)
    run_id = await new_run(session, "read")
    for start in range(0, size, 10_000):
        body = {
            "samples": [
                {"seq": seq, "timestamp": stamp(seq, base), "cpu_percent": float(seq % 100)}
                for seq in range(start, min(start + 10_000, size))
            ]
        }
        async with session.post(f"/runs/{run_id}/samples", json=body) as response:
            assert response.status == 201, await response.text()
    figures: dict[str, Any] = {}
    for limit in (10_000, 1_000):
        started = time.perf_counter()
        seen = await read_pages(session, run_id, limit)
        assert seen == size, (seen, size)
        figures[f"read_{size}_limit_{limit}_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    async with session.get(f"/runs/{run_id}/samples.csv") as response:
        rows = (await response.text()).count("\n") - 1
    assert rows == size
    figures[f"csv_{size}_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    async with session.get(f"/runs/{run_id}") as response:
        assert (await response.json())["summary"]["sample_count"] == size
    figures[f"summary_{size}_s"] = round(time.perf_counter() - started, 3)
    return figures


async def main(url: str, seconds: float, batches_each: int) -> dict[str, Any]:
    sessions = await client_sessions(url, CLIENTS)
    try:
        return {
            "single": await single_posts(sessions, seconds),
            "batches": await batch_posts(sessions, batches_each),
            "read": await read_run(sessions[0], 50_000),
        }
    finally:
        for session in sessions:
            await session.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batches-each", type=int, default=4)
    parser.add_argument("--real-server", action="store_true", help="FerretDB or MONGODB_URL")
    args = parser.parse_args()
    with benchmarked_service(args.real_server) as service:
        figures = asyncio.run(main(service.url, args.seconds, args.batches_each))
    database = "real server" if args.real_server else "embedded"
    print(json.dumps({"benchmark": "ingest", "database": database, "clients": CLIENTS, **figures}))

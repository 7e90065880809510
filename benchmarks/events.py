"""Run-event ingest on the embedded database, with 50 concurrent keep-alive clients.

1. single events, one per POST: events/s, p50/p99 latency (target >= 1,000/s, p99 < 100 ms);
2. batches of 10 events per POST: events/s (target >= 20,000/s);
3. for context, batches of 100: where the per-request cost stops dominating.
Every event is a distinct note on the client's own run. Run from the repository root as a
module; prints one JSON line.
"""

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from benchmarks.loadgen import SERVICE_ENV, client_sessions, run_for
from tests.live import running_service

CLIENTS = 50


async def phase(url: str, seconds: float, per_post: int) -> dict[str, Any]:
    sessions = await client_sessions(url, CLIENTS)
    base = datetime.now(UTC) - timedelta(hours=1)
    runs: dict[int, str] = {}
    for i, session in enumerate(sessions):
        async with session.post("/runs", json={"name": f"events-{i}"}) as response:
            runs[id(session)] = (await response.json())["id"]

    async def post(session: aiohttp.ClientSession, i: int) -> bool:
        events = [
            {
                "category": "note",
                "name": "note",
                "timestamp": (base + timedelta(milliseconds=i * per_post + j)).isoformat(),
                "data": {"text": f"event {i}-{j}"},
            }
            for j in range(per_post)
        ]
        async with session.post(
            f"/runs/{runs[id(session)]}/events", json={"events": events}
        ) as response:
            await response.read()
            return response.status == 201

    try:
        result = await run_for(sessions, seconds, post)
    finally:
        for session in sessions:
            await session.close()
    result["events_per_s"] = result["req_per_s"] * per_post
    return result


async def main(url: str, seconds: float) -> dict[str, Any]:
    return {
        "single": await phase(url, seconds, 1),
        "batches_of_10": await phase(url, seconds, 10),
        "batches_of_100": await phase(url, seconds, 100),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with running_service(SERVICE_ENV) as service:
        figures = asyncio.run(main(service.url, args.seconds))
    print(json.dumps({"benchmark": "events", "clients": CLIENTS, **figures}))

"""Load generation shared by the benchmarks: logged-in keep-alive clients and a timed loop."""

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.live import Service, real_mongodb, running_service

ADMIN = {"username": "admin", "password": "bench-admin"}
# The benchmarks keep more runs running at once than the cap a user gets (a scrape of 200).
SERVICE_ENV = {
    "ADMIN_USERNAME": ADMIN["username"],
    "ADMIN_PASSWORD": ADMIN["password"],
    "MAX_OPEN_RUNS_PER_USER": "10000",
}


@contextmanager
def benchmarked_service(real_server: bool) -> Iterator[Service]:
    """The service on the embedded database, or on a real server (MONGODB_URL, or FerretDB
    built by `make mongo-server`, its files in a temporary folder)."""
    if not real_server:
        with running_service(SERVICE_ENV) as service:
            yield service
        return
    with tempfile.TemporaryDirectory() as data, real_mongodb(Path(data)) as url:
        env = {**SERVICE_ENV, "MONGODB_URL": url, "MONGODB_DB": "loadwatch-benchmark"}
        with running_service(env) as service:
            yield service


async def client_session(url: str) -> aiohttp.ClientSession:
    """One client: its own keep-alive connection, logged in as the benchmark admin."""
    session = aiohttp.ClientSession(
        base_url=url,
        connector=aiohttp.TCPConnector(limit=1),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # it refuses cookies from IP hosts otherwise
    )
    async with session.post("/auth/login", json=ADMIN) as response:
        assert response.status == 200, await response.text()
    return session


async def client_sessions(url: str, count: int) -> list[aiohttp.ClientSession]:
    return [await client_session(url) for _ in range(count)]


Request = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


async def run_for(
    sessions: list[aiohttp.ClientSession], seconds: float, request: Request
) -> dict[str, Any]:
    """Every client sends ``request(session, i)`` back to back for ``seconds``.

    ``request`` returns whether the answer was the expected one.
    """
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        i = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            if not await request(session, i):
                errors += 1
            latencies.append(time.perf_counter() - start)
            i += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(s) for s in sessions))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "errors": errors,
    }


async def read_pages(session: aiohttp.ClientSession, run_id: str, limit: int) -> int:
    """Page through a run's samples, ``limit`` at a time; how many were read."""
    after, seen = -1, 0
    while after is not None:
        params = {"after_seq": after, "limit": limit}
        async with session.get(f"/runs/{run_id}/samples", params=params) as response:
            page = await response.json()
        seen += len(page["items"])
        after = page["next_after_seq"]
    return seen

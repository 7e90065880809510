"""The cost of the metrics: the HTTP middleware, and a scrape with 200 active runs.

1. req/s of GET /auth/me (a cached session: little else to do) with 50 keep-alive
   clients, served with and without the metrics middleware, alternated in one run.
   Target: with / without >= 0.9.
2. The time of GET /metrics with 200 running runs, each with a CPU sample.
   Target: < 50 ms.
Run from the repository root as a module; prints one JSON line.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
from fastapi import FastAPI

from benchmarks.loadgen import SERVICE_ENV, client_sessions, run_for
from rest_service.api.http_metrics import HTTPMetrics
from rest_service.app import create_app
from rest_service.domain.schemas import SAMPLE_FIELDS
from tests.live import running_service

CLIENTS = 50


def app_with_metrics() -> FastAPI:
    """The service as create_app builds it, served like its variant below."""
    return create_app()


def app_without_metrics() -> FastAPI:
    """The service as create_app builds it, less the metrics middleware."""
    app = create_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls is not HTTPMetrics]
    return app


async def me(session: aiohttp.ClientSession, _i: int) -> bool:
    async with session.get("/auth/me") as response:
        await response.read()
        return response.status == 200


async def throughput(url: str, seconds: float) -> dict[str, Any]:
    sessions = await client_sessions(url, CLIENTS)
    try:
        await run_for(sessions, 1.0, me)  # warm up
        return await run_for(sessions, seconds, me)
    finally:
        for session in sessions:
            await session.close()


async def scrape_time(url: str, runs: int, scrapes: int, figures: bool) -> dict[str, Any]:
    (session,) = await client_sessions(url, 1)
    try:
        for i in range(runs):
            async with session.post(
                "/runs", json={"name": f"r{i}", "host": f"h{i % 7}", "threshold": 80}
            ) as response:
                run = await response.json()
            # With figures: every optional one, as cpu-monitor --pid sends them (the largest
            # scrape); without: CPU only, as an old client sends.
            sample = {
                "seq": 0,
                "timestamp": datetime.now(UTC).isoformat(),
                "cpu_percent": 50.0,
                **(dict.fromkeys(SAMPLE_FIELDS, 1.0) if figures else {}),
            }
            async with session.post(f"/runs/{run['id']}/samples", json={"samples": [sample]}):
                pass
        timings = []
        for _ in range(scrapes):
            start = time.perf_counter()
            async with session.get("/metrics") as response:
                text = await response.text()
            timings.append(time.perf_counter() - start)
        assert text.count("loadwatch_cpu_usage_percent{") == runs
        cuts = statistics.quantiles(timings, n=20)
        return {
            "active_runs": runs,
            "figures": figures,
            "series": sum(1 for line in text.splitlines() if line and line[0] != "#"),
            "scrape_p50_ms": round(statistics.median(timings) * 1000, 2),
            "scrape_p95_ms": round(cuts[18] * 1000, 2),
            "scrape_max_ms": round(max(timings) * 1000, 2),
            "body_bytes": len(text),
        }
    finally:
        await session.close()


def main(seconds: float, rounds: int) -> dict[str, Any]:
    totals = {"with": 0, "without": 0}
    figures: dict[str, list[Any]] = {"with": [], "without": []}
    for _ in range(rounds):  # alternate, so drift in the machine hits both alike
        # Both variants through the same uvicorn command (no access log, as `serve` runs
        # above "info"), so that only the middleware differs.
        for variant, factory in (
            ("with", "benchmarks.metrics:app_with_metrics"),
            ("without", "benchmarks.metrics:app_without_metrics"),
        ):
            with running_service(SERVICE_ENV, factory=factory) as service:
                result = asyncio.run(throughput(service.url, seconds))
            totals[variant] += result["requests"]
            figures[variant].append(result)
    scrape = []
    for with_figures in (False, True):
        with running_service(SERVICE_ENV) as service:
            scrape.append(asyncio.run(scrape_time(service.url, 200, 100, with_figures)))
    return {
        "load_average": os.getloadavg(),
        "middleware_ratio": round(totals["with"] / totals["without"], 3),
        "with_middleware": figures["with"],
        "without_middleware": figures["without"],
        "scrape": scrape,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps({"benchmark": "metrics", **main(args.seconds, args.rounds)}))

"""The test-only injected latency takes fractions of a millisecond (a duet measures changes
far below 1 ms) and delays the route it names, and no other."""

import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rest_service.api.fault_injection import InjectedLatency
from rest_service.settings import Settings


def test_a_fraction_of_a_millisecond_is_a_valid_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INJECT_LATENCY_MS", "0.25")
    assert Settings(mongodb_url="mongomock://").inject_latency_ms == 0.25
    for bad in ("-1", "nan", "inf"):
        monkeypatch.setenv("INJECT_LATENCY_MS", bad)
        with pytest.raises(ValueError, match="inject_latency_ms"):
            Settings(mongodb_url="mongomock://")


async def test_the_named_route_alone_is_delayed_by_the_fraction() -> None:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/runs/{id}/samples", ok), Route("/runs", ok)])
    app = InjectedLatency(inner, seconds=200.5 / 1000, route="/runs/{id}/samples")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def elapsed(path: str) -> float:
            started = time.perf_counter()
            assert (await client.get(path)).status_code == 200
            return time.perf_counter() - started

        assert await elapsed("/runs/abc/samples") >= 0.2005
        assert await elapsed("/runs") < 0.2


def test_a_fraction_of_a_millisecond_is_spent_on_uvicorns_loop_too() -> None:
    """uvloop's timers are whole milliseconds: 0.5 ms must not become none."""
    import asyncio

    import uvloop

    from rest_service.api.fault_injection import delay

    async def fifty() -> float:
        started = time.perf_counter()
        for _ in range(50):
            await delay(0.0005)
        return time.perf_counter() - started

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(fifty()) >= 50 * 0.0005

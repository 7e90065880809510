"""The memory one request takes, against the size of its body or answer: the budgets of
docs/security.md (per_cpu values per POST and per page), measured.

In process (the app on the embedded database, through httpx's ASGI transport), with
tracemalloc: each figure is the peak of Python's allocations during the request above
what was allocated before it. Requests:
  - the largest POST of samples the API takes: 256 samples of a 1,024-CPU machine, and
    4,000 samples of a 26-CPU machine (about 5 MB), every optional figure set;
  - a body of per_cpu values beyond the budget (refused with 422);
  - event batches of countless empty objects (413 before parsing) and of zeros (422);
  - a page of the 4,000 samples of the 26-CPU run, a page asked for 10,000 of the 1,024-CPU
    run (cut at the budget), and the CSV of that run.
Run from the repository root: python -m benchmarks.request_memory
"""

import asyncio
import json
import os
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from benchmarks.storage import bcrypt_ms
from rest_service.app import create_app
from rest_service.domain.schemas import SAMPLE_FIELDS
from rest_service.settings import Settings

BASE = datetime.now(UTC) - timedelta(days=1)
MB = 1024 * 1024


def sample(seq: int, cpus: int) -> dict[str, Any]:
    figures: dict[str, float] = {}
    for name in SAMPLE_FIELDS:
        figures[name] = 123456789.0 if name.endswith(("_bytes", "_per_second")) else 42.5
    stamp = (BASE + timedelta(seconds=seq)).isoformat()
    per_cpu = [round(i % 100 + 0.25, 2) for i in range(cpus)]
    return {"seq": seq, "timestamp": stamp, "cpu_percent": 50.0, "per_cpu": per_cpu, **figures}


async def peak_of(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[httpx.Response, int]:
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    response = await call()
    _, peak = tracemalloc.get_traced_memory()
    return response, peak - before


async def main() -> None:
    settings = Settings(bcrypt_rounds=4, admin_username="admin", admin_password="admin-password")  # type: ignore[arg-type]
    app = create_app(settings)
    rows: list[dict[str, Any]] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as api:
            login = {"username": "admin", "password": "admin-password"}
            assert (await api.post("/auth/login", json=login)).status_code == 200
            tracemalloc.start()

            async def post(name: str, run_id: str, body: bytes, expect: int) -> None:
                headers = {"content-type": "application/json"}
                answer, peak = await peak_of(
                    lambda: api.post(f"/runs/{run_id}/samples", content=body, headers=headers)
                )
                assert answer.status_code == expect, answer.text[:300]
                rows.append({"request": name, "bytes": len(body), "peak": peak})

            wide = (await api.post("/runs", json={"name": "1024 CPUs"})).json()["id"]
            narrow = (await api.post("/runs", json={"name": "26 CPUs"})).json()["id"]
            for first in range(0, 1000, 256):
                batch = [sample(s, 1024) for s in range(first, min(first + 256, 1000))]
                body = json.dumps({"samples": batch}).encode()
                if first == 0:
                    await post("POST 256 samples x 1,024 CPUs", wide, body, 201)
                else:
                    await api.post(
                        f"/runs/{wide}/samples",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
            body = json.dumps({"samples": [sample(s, 26) for s in range(4_000)]}).encode()
            await post("POST 4,000 samples x 26 CPUs, every figure", narrow, body, 201)
            flood = {"samples": [{**sample(s, 0), "per_cpu": [0] * 1024} for s in range(1_000)]}
            text = json.dumps(flood, separators=(",", ":")).encode()
            await post("POST 1,000 x 1,024 per_cpu (refused)", narrow, text, 422)

            stamp = BASE.isoformat()
            for name, junk, count, expect in [
                ("POST events: 4.8 MB of {} (refused)", b"{}", 1_600_000, 413),
                ("POST events: 3.2 MB of 0 (refused)", b"0", 1_600_000, 422),
            ]:
                event = b'{"category":"note","name":"note","timestamp":"%s","data":' % (
                    stamp.encode()
                )
                body = b'{"events":[%s{"text":"x","junk":[%s]}}]}' % (
                    event,
                    b",".join([junk] * count),
                )
                headers = {"content-type": "application/json"}
                answer, peak = await peak_of(
                    lambda body=body, headers=headers: api.post(  # type: ignore[misc]
                        f"/runs/{narrow}/events", content=body, headers=headers
                    )
                )
                assert answer.status_code == expect, answer.text[:300]
                rows.append({"request": name, "bytes": len(body), "peak": peak})

            for name, path in [
                ("page of 4,000 (26 CPUs, every figure)", f"/runs/{narrow}/samples?limit=10000"),
                ("page asked 10,000 (1,024 CPUs)", f"/runs/{wide}/samples?limit=10000"),
                ("CSV (1,000 samples x 1,024 CPUs)", f"/runs/{wide}/samples.csv"),
            ]:
                answer, peak = await peak_of(lambda path=path: api.get(path))  # type: ignore[misc]
                assert answer.status_code == 200
                extra = ""
                if path.endswith("limit=10000"):
                    extra = f" ({len(answer.json()['items'])} rows)"
                rows.append({"request": name + extra, "bytes": len(answer.content), "peak": peak})
            tracemalloc.stop()

    yardstick_ms = bcrypt_ms()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; bcrypt at 12 rounds {yardstick_ms:.0f} ms")
    print(f"{'request':<44} {'body/answer':>12} {'peak':>10} {'ratio':>6}")
    for row in rows:
        ratio = row["peak"] / row["bytes"]
        print(
            f"{row['request']:<44} {row['bytes'] / MB:>9.2f} MB {row['peak'] / MB:>7.1f} MB "
            f"{ratio:>6.1f}"
        )
    print(json.dumps({"rows": rows, "bcrypt_ms": round(yardstick_ms), "load": load}))


if __name__ == "__main__":
    asyncio.run(main())

"""The cheapest HTTP endpoint: a raw ASGI app answering "ok", for load-generator benchmarks.

Run: python -m uvicorn benchmarks.trivial_server:app --port N
"""

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})

"""ASGI middleware that counts, times and sizes every HTTP request by route template."""

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rest_service.telemetry.metrics import (
    HTTP_DURATION,
    HTTP_INPROGRESS,
    HTTP_REQUEST_SIZE,
    HTTP_REQUESTS,
    HTTP_RESPONSE_SIZE,
    METHODS,
)


class HTTPMetrics:
    """ASGI middleware: counts, times and tracks every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # labels() validates and locks on every call: look each label set up once.
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._sizes: dict[str, tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering
        sent = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        HTTP_INPROGRESS.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - start
            HTTP_INPROGRESS.dec()
            # The router left the matched route in the scope: label by its template.
            route = scope.get("route")
            handler = getattr(route, "path", None) or "none"
            method = scope["method"] if scope["method"] in METHODS else "other"
            key = (method, handler, f"{status // 100}xx")
            counter = self._requests.get(key)
            if counter is None:
                counter = self._requests[key] = HTTP_REQUESTS.labels(*key)
            counter.inc()
            histogram = self._durations.get(key[:2])
            if histogram is None:
                histogram = self._durations[key[:2]] = HTTP_DURATION.labels(*key[:2])
            histogram.observe(elapsed)
            sizes = self._sizes.get(handler)
            if sizes is None:
                sizes = self._sizes[handler] = (
                    HTTP_REQUEST_SIZE.labels(handler),
                    HTTP_RESPONSE_SIZE.labels(handler),
                )
            sizes[0].observe(_content_length(scope))
            sizes[1].observe(sent)


def _content_length(scope: Scope) -> int:
    """The request body's declared size (0 without one), as the instrumentator reads it."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0

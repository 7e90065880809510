"""What a request body must be: JSON, at most MAX_BODY_BYTES, and at most MAX_CONTAINERS
objects and arrays.

FastAPI's own ``max_body_size`` answers a too-large Content-Length in plain text; the
API promises ``{"detail": ...}`` on every error, hence these small middlewares.
"""

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 5 * 1024 * 1024
# An empty object or array is 2 bytes of JSON and some 60 bytes once parsed: a body of them
# would cost 30 times its size before any model could refuse it. Counted as the body
# streams in, on the raw bytes ("{" and "[" inside strings count too): far above what any
# batch the API takes holds.
MAX_CONTAINERS = 262_144


TOO_NESTED = f"Request body holds more than {MAX_CONTAINERS:,} JSON objects and arrays"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
UNSUPPORTED = "Request bodies must be JSON: send Content-Type: application/json"


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class RequestBodyRules:
    """ASGI middleware, one layer for both rules (it runs on every request):

    - 413 for a body over ``max_bytes``, by its declared length or as it streams in, or
      with more than MAX_CONTAINERS objects and arrays;
    - 415 for a POST, PUT or PATCH with a body not declared as JSON. A browser sends a
      cross-site form or ``text/plain`` POST without asking first, and the session cookie
      rides along (SameSite does not separate two ports of one host); it must preflight a
      JSON one. So every body-taking route refuses anything but JSON.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return f"Request body is larger than {self.max_bytes // (1024 * 1024)} MB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        refusal = None
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            refusal = JSONResponse({"detail": self._too_large()}, status_code=413)
        elif scope["method"] in BODY_METHODS:
            has_body = declared not in (None, b"0") or b"transfer-encoding" in headers
            if has_body and not is_json(headers.get(b"content-type", b"")):
                refusal = JSONResponse({"detail": UNSUPPORTED}, status_code=415)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = containers = 0

        async def limited_receive() -> Message:
            nonlocal received, containers
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                containers += chunk.count(b"{") + chunk.count(b"[")
                # Raised inside the route's body read, so FastAPI answers them as an
                # HTTPException: 413 with {"detail": ...}.
                if received > self.max_bytes:
                    raise HTTPException(status_code=413, detail=self._too_large())
                if containers > MAX_CONTAINERS:
                    raise HTTPException(status_code=413, detail=TOO_NESTED)
            return message

        await self.app(scope, limited_receive, send)

"""What a request body must be: JSON, and at most MAX_BODY_BYTES.

FastAPI's own ``max_body_size`` answers a too-large Content-Length in plain text; the
API promises ``{"detail": ...}`` on every error, hence these small middlewares.
"""

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 5 * 1024 * 1024


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
UNSUPPORTED = "Request bodies must be JSON: send Content-Type: application/json"


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class RequestBodyRules:
    """ASGI middleware, one layer for both rules (it runs on every request):

    - 413 for a body over ``max_bytes``, by its declared length or as it streams in;
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
            if has_body and not _is_json(headers.get(b"content-type", b"")):
                refusal = JSONResponse({"detail": UNSUPPORTED}, status_code=415)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read, so FastAPI answers it as an
                    # HTTPException: 413 with {"detail": ...}.
                    raise HTTPException(status_code=413, detail=self._too_large())
            return message

        await self.app(scope, limited_receive, send)

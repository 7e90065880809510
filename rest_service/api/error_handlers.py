"""How errors become HTTP answers: domain errors to their status, invalid requests to 422,
anything else to a logged 500. Every answer is ``{"detail": ...}`` and always encodes."""

import logging
import math
import re
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rest_service.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    ServiceError,
    Throttled,
    UnsupportedMediaType,
)

log = logging.getLogger("rest_service")

STATUS_OF: dict[type[ServiceError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    NotAuthenticated: 401,
    Forbidden: 403,
    Throttled: 429,
    UnsupportedMediaType: 415,
}


def json_safe(value: Any) -> Any:
    """``value`` in a form JSON can always carry. A 422 echoes what the client sent, and
    that may be NaN, an infinity or a lone UTF-16 surrogate, which strict JSON and UTF-8
    cannot encode: such a value is answered as text instead of failing the answer."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def answer(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": json_safe(detail)}, status_code=status, headers=headers)


async def service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    status = next(code for cls, code in STATUS_OF.items() if isinstance(error, cls))
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else None
    return answer(status, error.detail, headers)


async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # jsonable_encoder turns the errors' contexts (exceptions, …) into text; answer()
    # then makes what the client sent encodable. An input that is a list or an object is
    # left out: echoing a whole batch would cost its size again, in memory and on the wire.
    errors = [
        {k: v for k, v in problem.items() if k != "input" or not isinstance(v, list | dict)}
        for problem in error.errors()
    ]
    return answer(422, jsonable_encoder(errors))


async def http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (404 for no route, 405, 413 from the body limit). For 405,
    Starlette names only the methods of the first route whose path matched; ``Allow``
    must list every method the resource has."""
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return answer(error.status_code, error.detail, headers or None)


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@lru_cache(maxsize=8)
def _method_table(app: FastAPI) -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """Each documented path, as a pattern, with its methods (built once per app)."""
    table = []
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]*?\\\}", "[^/]+", re.escape(template))
        methods = tuple(sorted(m.upper() for m in operations if m in HTTP_METHODS))
        table.append((re.compile(f"^{pattern}$"), methods))
    return tuple(table)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for pattern, documented in _method_table(request.app):
        if pattern.match(request.url.path):
            methods.update(documented)
    return sorted(methods)


async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return answer(500, "Internal server error")

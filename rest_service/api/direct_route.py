"""Routes whose common request skips FastAPI's per-request machinery, and whose every
other request gets FastAPI's full handling.

FastAPI answers a request by reading the body, solving the endpoint's dependencies
(parameters, body, the current user) one by one, validating the return value against
the response model and encoding it again. For the write that takes most of the traffic
(cpu-monitor posts each sample as it is taken), that machinery costs as much CPU as
storing the sample.

A route made with ``direct(shortcut)`` keeps everything FastAPI knows about it: its
path, its OpenAPI document, its middleware and exception handlers. Its ``shortcut``
gets the request first and answers the request FastAPI would have accepted, at less
cost, with the same endpoint function. For anything it does not recognise as well
formed (no user, a body that does not parse or validate), it returns None and FastAPI
answers as usual, so every refusal, and its wording, stays FastAPI's own
(tests/rest_service/test_direct_route.py compares the two on generated requests).
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Shortcut = Callable[[Request], Awaitable[Response | None]]


class DirectRoute(APIRoute):
    """An APIRoute whose handler asks ``shortcut`` first (set by ``direct``)."""

    shortcut: Shortcut

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()

        async def handler(request: Request) -> Response:
            response = await self.shortcut(request)
            return response if response is not None else await full(request)

        return handler


def direct(shortcut: Shortcut) -> type[APIRoute]:
    """The route class for ``APIRouter.add_api_route(..., route_class_override=...)``."""
    attributes: dict[str, Any] = {"shortcut": staticmethod(shortcut)}
    return type(f"DirectRoute_{shortcut.__name__}", (DirectRoute,), attributes)

"""create_app and the lifespan: settings, database, admin bootstrap, middleware, routes."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rest_service.auth import SessionCache
from rest_service.cache import MonitoredTTLCache
from rest_service.db import init_db
from rest_service.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    ServiceError,
    Throttled,
)
from rest_service.fault_injection import InjectedLatency
from rest_service.limits import BodySizeLimit
from rest_service.metrics import HTTPMetrics
from rest_service.routes import auth, events, health, metrics, runs, samples, users
from rest_service.settings import Settings
from rest_service.shared_counter import SharedCounter
from rest_service.users import ensure_admin

log = logging.getLogger("rest_service")
LOGOUT_COUNTER_FILE = "session-logouts.counter"
# CPython collects its youngest generation every 700 new objects. Under ingest, the
# embedded database keeps every document as Python objects, so collections come often and
# keep walking survivors: a larger first threshold cut ingest CPU by ~4 % and p99 latency
# by ~40 % (benchmarks/events.py).
GC_THRESHOLDS = (20_000, 10, 10)

STATUS_OF: dict[type[ServiceError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    NotAuthenticated: 401,
    Forbidden: 403,
    Throttled: 429,
}


async def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    status = next(code for cls, code in STATUS_OF.items() if isinstance(error, cls))
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else None
    return JSONResponse({"detail": error.detail}, status_code=status, headers=headers)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level_number, format="%(levelname)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gc.set_threshold(*GC_THRESHOLDS)
        app.state.db_client = await init_db(settings)
        await ensure_admin(settings)
        yield
        app.state.db_client.close()
        app.state.sessions.logouts.close()

    app = FastAPI(
        title="loadwatch",
        summary="Test runs and CPU samples for load tests, with cookie sessions.",
        version="0.1.0",
        lifespan=lifespan,
        # The order of the sections in /docs, whatever the order of the routes.
        openapi_tags=[
            {"name": "auth", "description": "Log in and out; the session is a cookie."},
            {"name": "users", "description": "Accounts, created by an admin."},
            {"name": "runs", "description": "Test runs, their status and summary."},
            {"name": "samples", "description": "CPU samples of a run."},
            {"name": "events", "description": "Events of a run: crossings, deploys, notes."},
            {"name": "health", "description": "Liveness and readiness."},
            {"name": "metrics", "description": "Prometheus metrics."},
        ],
        # Prometheus is this service's telemetry; FastAPI's OpenTelemetry hooks would
        # otherwise look for configured providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    shared_dir = settings.prometheus_multiproc_dir if settings.web_concurrency > 1 else None
    app.state.sessions = SessionCache(
        MonitoredTTLCache("sessions", maxsize=10_000, ttl=settings.session_cache_seconds),
        SharedCounter(shared_dir / LOGOUT_COUNTER_FILE if shared_dir else None),
    )
    app.state.summaries = MonitoredTTLCache("run_summaries", maxsize=1_000, ttl=3600)
    if settings.inject_latency_ms:
        log.warning(
            "INJECT_LATENCY_MS=%d: answers of %s are delayed on purpose (test-only setting)",
            settings.inject_latency_ms,
            settings.inject_latency_route or "every route",
        )
        app.add_middleware(
            InjectedLatency,
            seconds=settings.inject_latency_ms / 1000,
            route=settings.inject_latency_route,
        )
    app.add_middleware(BodySizeLimit)
    app.add_middleware(HTTPMetrics)  # outermost: it sees every answer, 413 included
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(Exception, _unexpected_error)
    # FastAPI tries routes in order: the ingest routes, which take most requests, first.
    for module in (events, samples, runs, auth, users, health, metrics):
        app.include_router(module.router)
    return app

"""create_app and the lifespan: settings, database, admin bootstrap, middleware, routes."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rest_service.api import (
    auth_routes,
    error_handlers,
    event_routes,
    health_routes,
    load_test_routes,
    metrics_routes,
    run_routes,
    sample_routes,
    session_routes,
    user_routes,
)
from rest_service.api.body_rules import RequestBodyRules
from rest_service.api.fault_injection import InjectedLatency
from rest_service.api.http_metrics import HTTPMetrics
from rest_service.domain.errors import ServiceError
from rest_service.domain.runs import close_silent_runs_forever
from rest_service.domain.samples import migrate_legacy_samples
from rest_service.domain.sessions import SessionCache
from rest_service.domain.users import ensure_admin, ensure_provisioned_tokens
from rest_service.settings import Settings
from rest_service.storage.connection import init_db
from rest_service.storage.indexes import expire_forever
from rest_service.telemetry.cache import MonitoredTTLCache
from rest_service.telemetry.shared_counter import SharedCounter

log = logging.getLogger("rest_service")
LOGOUT_COUNTER_FILE = "session-logouts.counter"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level_number, format="%(levelname)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await init_db(settings)
        app.state.db_client = database.client
        moved = await migrate_legacy_samples()
        if moved:
            log.info("moved %d samples stored one per document into blocks", moved)
        await ensure_admin(settings)
        await ensure_provisioned_tokens(settings)
        silence = timedelta(seconds=settings.run_silence_timeout_seconds)
        tasks = [asyncio.create_task(close_silent_runs_forever(silence))]
        if database.expiries:
            tasks.append(asyncio.create_task(expire_forever(database.expiries)))
        yield
        for task in tasks:
            task.cancel()
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
            "INJECT_LATENCY_MS=%g: answers of %s are delayed on purpose (test-only setting)",
            settings.inject_latency_ms,
            settings.inject_latency_route or "every route",
        )
        app.add_middleware(
            InjectedLatency,
            seconds=settings.inject_latency_ms / 1000,
            route=settings.inject_latency_route,
        )
    app.add_middleware(RequestBodyRules)
    app.add_middleware(HTTPMetrics)  # outermost: it sees every answer, 413 included
    app.add_exception_handler(ServiceError, error_handlers.service_error)
    app.add_exception_handler(RequestValidationError, error_handlers.invalid_request)
    app.add_exception_handler(StarletteHTTPException, error_handlers.http_error)
    app.add_exception_handler(Exception, error_handlers.unexpected_error)
    # FastAPI tries routes in order, router by router: the samples, which take most
    # requests, first.
    for module in (
        sample_routes,
        event_routes,
        run_routes,
        load_test_routes,
        auth_routes,
        session_routes,
        user_routes,
        health_routes,
        metrics_routes,
    ):
        app.include_router(module.router)
    _document_event_kinds(app)
    return app


def _document_event_kinds(app: FastAPI) -> None:
    """The events body is documented by hand (it is read raw): its kinds' schemas join
    the OpenAPI document's components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(
            event_routes.SCHEMA_COMPONENTS
        )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from rest_service.api.deps import MetricsReader
from rest_service.api.params import NOT_LOGGED_IN
from rest_service.domain import runs
from rest_service.telemetry import exposition

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **NOT_LOGGED_IN},
    dependencies=[MetricsReader],
)
async def prometheus_metrics() -> Response:
    """Prometheus text format. Open by default; with METRICS_TOKEN set, only for
    `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise)."""
    active = await runs.active_runs()
    # Rendering formats every series and, with several workers, reads each worker's
    # files: file I/O and CPU that would otherwise stall the event loop.
    body = await run_in_threadpool(exposition.render, active)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

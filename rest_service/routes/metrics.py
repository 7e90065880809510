from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from rest_service import metrics, runs

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def prometheus_metrics() -> Response:
    """Prometheus text format; no authentication."""
    body = metrics.render(await runs.active_runs())
    return Response(body, media_type=CONTENT_TYPE_LATEST)

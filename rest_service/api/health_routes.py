from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from rest_service.storage.connection import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process lives."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer"}})
async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers a ping, 503 when it doesn't."""
    if await ping(request.app.state.db_client):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"detail": "database unavailable"}, status_code=503)

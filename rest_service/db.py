"""The one place that connects to the database: a real MongoDB or the embedded emulation."""

import logging
from typing import Any

from beanie import init_beanie
from motor.motor_asyncio import AsyncIOMotorClient

from rest_service.embedded import embedded_client
from rest_service.models import DOCUMENT_MODELS
from rest_service.settings import Settings

log = logging.getLogger(__name__)


def make_client(settings: Settings) -> Any:
    if settings.embedded:
        log.warning(
            "MONGODB_URL is unset: using the embedded in-memory database (mongomock). "
            "Data lives only as long as this process."
        )
        return embedded_client()
    return AsyncIOMotorClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
    )


async def init_db(settings: Settings) -> Any:
    """Connect, bind the Beanie documents and declare their indexes."""
    client = make_client(settings)
    await init_beanie(database=client[settings.mongodb_db], document_models=DOCUMENT_MODELS)
    return client


async def ping(client: Any) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # any failure to answer means "not ready"
        log.warning("database ping failed", exc_info=True)
        return False
    return True

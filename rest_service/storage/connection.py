"""The one place that connects to the database: a real MongoDB or the embedded emulation."""

import gc
import logging
from dataclasses import dataclass, field
from typing import Any

from beanie import init_beanie
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo.errors import BulkWriteError

from embedded_mongo import GC_THRESHOLDS, embedded_client
from rest_service.settings import Settings
from rest_service.storage.indexes import Expiry, create_indexes
from rest_service.storage.models import DOCUMENT_MODELS

log = logging.getLogger(__name__)
DUPLICATE_KEY = 11000


def make_client(settings: Settings) -> Any:
    if settings.embedded:
        log.warning(
            "MONGODB_URL is unset: using the embedded in-memory database (mongomock). "
            "Data lives only as long as this process."
        )
        gc.set_threshold(*GC_THRESHOLDS)
        return embedded_client()
    return AsyncIOMotorClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
    )


@dataclass
class Database:
    client: Any
    # Where the server cannot keep TTL indexes: what the service expires itself.
    expiries: list[Expiry] = field(default_factory=list)


async def bind(database: Any) -> list[Expiry]:
    """Bind the Beanie documents to ``database`` and create their indexes; returns what the
    service must expire itself (see indexes.py)."""
    await init_beanie(database=database, document_models=DOCUMENT_MODELS, skip_indexes=True)
    return await create_indexes(DOCUMENT_MODELS)


async def init_db(settings: Settings) -> Database:
    """Connect, bind the documents and create their indexes."""
    client = make_client(settings)
    return Database(client, await bind(client[settings.mongodb_db]))


async def ping(client: Any) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:  # any failure to answer means "not ready"
        log.warning("database ping failed", exc_info=True)
        return False
    return True


async def insert_new(collection: Any, docs: list[dict[str, Any]]) -> int:
    """Insert the documents whose ``_id`` is not stored yet; returns how many were new.
    Ids are deterministic (see models.py), so a stored id is the same item sent again."""
    try:
        result = await collection.insert_many(docs, ordered=False)
    except BulkWriteError as error:
        if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise
        return int(error.details["nInserted"])
    return len(result.inserted_ids)

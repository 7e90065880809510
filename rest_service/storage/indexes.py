"""The indexes the documents declare, created one by one, and what stands in for a TTL
index on a server that cannot make one.

MongoDB removes a document once the date in a TTL-indexed field has passed, checking about
once a minute. FerretDB's SQLite backend refuses the TTL option (NotImplemented), so there
the same index is made without it and ``expire_forever`` deletes what has expired on the
same schedule: the service keeps MongoDB's semantics on either server. Reads never rely on
either: they check the expiry themselves.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from beanie import Document
from pymongo import IndexModel
from pymongo.errors import OperationFailure

from rest_service.storage.documents import collection

log = logging.getLogger(__name__)
NOT_IMPLEMENTED = 238
TTL_MONITOR_SECONDS = 60.0  # how often MongoDB's TTL monitor runs


@dataclass(frozen=True)
class Expiry:
    """Documents of ``model`` whose ``field`` date has passed are to be removed."""

    model: type[Document]
    field: str


async def create_indexes(models: list[type[Document]]) -> list[Expiry]:
    """Create every declared index; returns the expiries the server could not take as TTL
    indexes, which ``expire_forever`` then applies."""
    swept: list[Expiry] = []
    for model in models:
        for index in getattr(model.Settings, "indexes", []):
            spec = dict(index.document)
            try:
                await collection(model).create_indexes([index])
            except OperationFailure as error:
                if error.code != NOT_IMPLEMENTED or "expireAfterSeconds" not in spec:
                    raise
                keys = list(spec.pop("key").items())
                spec.pop("expireAfterSeconds")
                await collection(model).create_indexes([IndexModel(keys, **spec)])
                swept.append(Expiry(model, keys[0][0]))
    if swept:
        names = ", ".join(f"{e.model.Settings.name}.{e.field}" for e in swept)
        log.info("the server has no TTL indexes: expired %s are removed every minute", names)
    return swept


async def remove_expired(expiries: list[Expiry], now: datetime | None = None) -> int:
    """Delete what has expired, as MongoDB's TTL monitor would; returns how many."""
    moment = now or datetime.now(UTC)
    removed = 0
    for expiry in expiries:
        result = await collection(expiry.model).delete_many({expiry.field: {"$lte": moment}})
        removed += result.deleted_count
    return removed


async def expire_forever(expiries: list[Expiry]) -> None:
    """The lifespan's background task where the server has no TTL indexes."""
    while True:
        await asyncio.sleep(TTL_MONITOR_SECONDS)
        try:
            await remove_expired(expiries)
        except Exception:  # a database hiccup must not end the task
            log.exception("could not remove expired documents")

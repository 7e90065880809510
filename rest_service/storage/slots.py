"""Slots: a fixed number of places under a key, each a document whose ``_id`` is
``KEY#i``, taken by inserting it. Inserting on a unique key is atomic on every wire server
(FerretDB does not isolate concurrent conditional updates of one document), so a limit
made of slots holds under any concurrency. The login throttle and the cap on open runs
both rest on it."""

from typing import Any

from beanie import Document
from pymongo.errors import DuplicateKeyError

from rest_service.storage.documents import collection


async def take(
    model: type[Document], key: str, count: int, held: set[str], fields: dict[str, Any]
) -> str | None:
    """Insert ``fields`` as the first of ``key``'s ``count`` slots not in ``held`` (the
    slots read as taken) that no one else takes first; its ``_id``, or None when none is
    left."""
    for index in range(count):
        slot = f"{key}#{index}"
        if slot in held:
            continue
        try:
            await collection(model).insert_one({"_id": slot, **fields})
        except DuplicateKeyError:  # taken since the read
            continue
        return slot
    return None

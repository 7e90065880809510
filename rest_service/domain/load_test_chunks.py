"""A load test's timings, in chunks: what loadkit sends, checked, stored once, and read back
in pages.

A chunk holds up to MAX_CHUNK_TIMINGS timings, sorted by start time, in four columns of
little-endian integers: the start time in microseconds after the chunk's ``t0_us``
(int64), the response time in microseconds (uint32), the index of the endpoint in the
chunk's list (uint16), and the flags (uint8: 1 success, 2 outside the measured window,
4 a duet's candidate side). Each column is split into byte planes (all first bytes, then
all second bytes…), the columns are concatenated and the whole is compressed with zlib.
Most of a plane is alike (the high bytes of small numbers), which is what lets a timing
cost a few bytes. The service decompresses each chunk once to check it and never again:
reading and judging the timings is loadkit's."""

import base64
import binascii
import zlib
from typing import Any

from pymongo.errors import DuplicateKeyError

from rest_service.domain.errors import Conflict, InvalidParameter
from rest_service.domain.schemas.load_tests import ChunkIn, ChunkOut
from rest_service.storage.documents import collection
from rest_service.storage.load_test_models import LoadTest, LoadTestChunk

BYTES_PER_TIMING = 8 + 4 + 2 + 1
FLAGS = 7
PAGE_BYTES = 3_000_000  # stored bytes of the chunks of one page (base64 adds a third)
PAGE_CHUNKS = 200


def _invalid(message: str) -> InvalidParameter:
    """A 422 shaped as FastAPI's own, naming the body's ``data``."""
    return InvalidParameter("body", "data", message)


def chunk_id(run_id: int, chunk: int) -> str:
    return f"{run_id}:{chunk}"


def check(body: ChunkIn) -> bytes:
    """The chunk's stored bytes, once they decode to ``count`` well-formed timings."""
    try:
        data = base64.b64decode(body.data, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("data is not base64") from None
    n = body.count
    expected = n * BYTES_PER_TIMING
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(data, expected + 1)
    except zlib.error:
        raise _invalid("data is not a zlib stream") from None
    if len(raw) != expected or not inflate.eof or inflate.unconsumed_tail:
        raise _invalid(f"data does not hold {n} timings of {BYTES_PER_TIMING} bytes")
    if max(raw[7 * n : 8 * n]) >= 0x80:
        raise _invalid("a start time lies before the chunk's t0_us")
    low, high = raw[12 * n : 13 * n], raw[13 * n : 14 * n]
    top = max(low) if max(high) == 0 else max(a | b << 8 for a, b in zip(low, high, strict=True))
    if top >= len(body.endpoints):
        raise _invalid(f"endpoint index {top} is past the {len(body.endpoints)} endpoints")
    if max(raw[14 * n :]) > FLAGS:
        raise _invalid("a timing has flags beyond 1, 2 and 4")
    return data


async def add(test: LoadTest, body: ChunkIn) -> tuple[int, bool]:
    """Store the chunk once: (timings stored, whether it was stored before)."""
    if test.status != "running":
        raise Conflict(f"Load test {test.label!r} is {test.status}: it takes no more timings")
    data = check(body)
    document = {
        "_id": chunk_id(test.id, body.chunk),
        "run_id": test.id,
        "chunk": body.chunk,
        "timings": body.count,
        "t0_us": body.t0_us,
        "endpoints": [{"request_type": kind, "name": name} for kind, name in body.endpoints],
        "data": data,
    }
    try:
        await collection(LoadTestChunk).insert_one(document)
    except DuplicateKeyError:  # sent again after an outage: stored the first time
        return 0, True
    await collection(LoadTest).update_one({"_id": test.id}, {"$inc": {"timings": body.count}})
    return body.count, False


async def page(test: LoadTest, after: int) -> tuple[list[ChunkOut], int | None]:
    """The chunks after chunk ``after``, in order, up to PAGE_BYTES; the next ``after``."""
    found = collection(LoadTestChunk).find({"run_id": test.id, "chunk": {"$gt": after}})
    items: list[ChunkOut] = []
    size = 0
    async for doc in found.sort("chunk", 1).limit(PAGE_CHUNKS):
        items.append(_out(doc))
        size += len(doc["data"])
        if size >= PAGE_BYTES:
            return items, items[-1].chunk
    return items, items[-1].chunk if len(items) == PAGE_CHUNKS else None


def _out(doc: dict[str, Any]) -> ChunkOut:
    return ChunkOut(
        chunk=doc["chunk"],
        count=doc["timings"],
        t0_us=doc["t0_us"],
        endpoints=[(str(e["request_type"]), str(e["name"])) for e in doc["endpoints"]],
        data=base64.b64encode(bytes(doc["data"])).decode("ascii"),
    )

"""Operations on CPU samples: ingest with duplicate detection, paging, CSV export."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from rest_service.db import insert_new
from rest_service.errors import Conflict
from rest_service.metrics import SAMPLES_DUPLICATES, SAMPLES_INGESTED
from rest_service.models import Run, Sample
from rest_service.schemas import MAX_PAGE, SampleIn

_FIELDS = {"_id": 0, "seq": 1, "timestamp": 1, "cpu_percent": 1, "per_cpu": 1}
CSV_COLUMNS = ("seq", "timestamp", "cpu_percent", "per_cpu")


def sample_id(run_id: ObjectId, seq: int) -> str:
    return f"{run_id}:{seq}"


async def add_samples(run: Run, samples: list[SampleIn]) -> tuple[int, int]:
    """Store new samples; returns (accepted, duplicates). A stored (run, seq) is skipped."""
    if run.status != "running":
        raise Conflict(f"Run is {run.status}; samples can only be added to a running run")
    run_id = run.id
    docs = [
        {
            "_id": sample_id(run_id, s.seq),
            "run_id": run_id,
            "seq": s.seq,
            "timestamp": s.timestamp,
            "cpu_percent": s.cpu_percent,
            "per_cpu": s.per_cpu,
        }
        for s in samples
    ]
    accepted = await insert_new(Sample.get_motor_collection(), docs)
    duplicates = len(docs) - accepted
    SAMPLES_INGESTED.inc(accepted)
    SAMPLES_DUPLICATES.inc(duplicates)
    latest = max(samples, key=lambda s: s.seq)
    now = datetime.now(UTC)
    runs = Run.get_motor_collection()
    if latest.seq > run.max_seq:
        # Only a newer seq moves these, whatever order batches arrive in.
        await runs.update_one(
            {"_id": run.id, "max_seq": {"$lt": latest.seq}},
            {"$set": {"max_seq": latest.seq, "last_cpu": latest.cpu_percent, "last_seen_at": now}},
        )
    elif seen_long_ago(run, now):  # a retry of old seqs: still a sign of life
        await runs.update_one({"_id": run.id}, {"$set": {"last_seen_at": now}})
    return accepted, duplicates


SEEN_RESOLUTION = timedelta(seconds=10)


def seen_long_ago(run: Run, now: datetime) -> bool:
    """Whether the run's last sign of life is worth a write to refresh."""
    return now - (run.last_seen_at or run.started_at) > SEEN_RESOLUTION


async def sample_page(
    run: Run, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` samples with seq > after_seq, in seq order, and the next after_seq."""
    collection = Sample.get_motor_collection()
    docs: list[dict[str, Any]] = []
    # Seqs are usually contiguous, so the page is fetched by _id (an index lookup on both
    # backends); only when the window comes back short do gaps force a range query.
    window_end = min(after_seq + limit, run.max_seq)
    if after_seq < window_end:
        ids = [sample_id(run.id, seq) for seq in range(after_seq + 1, window_end + 1)]
        docs = await collection.find({"_id": {"$in": ids}}, _FIELDS).sort("seq", 1).to_list(None)
    if len(docs) < limit and window_end < run.max_seq:
        rest = collection.find(
            {"run_id": run.id, "seq": {"$gt": max(window_end, after_seq)}}, _FIELDS
        )
        docs += await rest.sort("seq", 1).limit(limit - len(docs)).to_list(None)
    next_after_seq = docs[-1]["seq"] if len(docs) == limit else None
    return docs, next_after_seq


async def iter_samples(run: Run, page_size: int = MAX_PAGE) -> AsyncIterator[list[dict[str, Any]]]:
    after: int | None = -1
    while after is not None:
        docs, after = await sample_page(run, after, page_size)
        if docs:
            yield docs


def csv_rows(docs: list[dict[str, Any]], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(CSV_COLUMNS)
    for doc in docs:
        per_cpu = doc.get("per_cpu")
        writer.writerow(
            (
                doc["seq"],
                doc["timestamp"].isoformat(),
                doc["cpu_percent"],
                ";".join(str(v) for v in per_cpu) if per_cpu else "",
            )
        )
    return buffer.getvalue()


async def samples_csv(run: Run) -> AsyncIterator[str]:
    """The run's samples as CSV text chunks, header first, one chunk per page."""
    yield csv_rows([], header=True)
    async for docs in iter_samples(run):
        yield csv_rows(docs, header=False)


async def delete_samples(run_id: ObjectId) -> None:
    await Sample.get_motor_collection().delete_many({"run_id": run_id})

"""CPU samples, stored in blocks: the layout, ingest with duplicate detection, deletion,
and the migration of samples stored one per document (sample_reads.py reads them back).

Layout (MongoDB's bucket pattern, as its time-series collections use inside): one document
per run and block of BLOCK consecutive seqs, ``_id`` ``"<run id>:<block>"``, with columnar
arrays indexed by ``seq % BLOCK``: ``ts`` (ms since the epoch) and ``cpu``, None where no
sample is stored. Optional fields go to ``extra.<field>.<offset>``, sparse (per_cpu, and
the figures of schemas.SAMPLE_FIELDS: memory, disk, network, process...), so a block holds
only the fields its samples carry. Why this layout:
- A run costs in proportion to its own samples: reading, exporting or deleting it touches
  about n / BLOCK documents, found by ``_id`` (both databases' primary index), or by the
  ``(run_id, block)`` index across gaps in the seqs.
- Idempotency stays on ``(run, seq)``: a few samples (what cpu-monitor sends live) are
  written in one update on the condition that their slots are empty; otherwise, or when
  that finds them taken, the block is written with a version check (read its ``ts`` and
  ``version``, ``$set`` only the empty slots where the version is unchanged, retry
  otherwise). Duplicates are thus counted exactly however many copies race, with plain
  ``$set``/``$inc`` that both databases run the same way. No unique secondary index.
- A stored sample costs two array slots instead of a document, its ``_id`` and an index
  entry.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bson import ObjectId

from rest_service.domain.errors import Conflict, NotFound
from rest_service.domain.ownership import RUN_NOT_FOUND, run_filter
from rest_service.domain.schemas import (
    SampleIn,
    to_ms,
)
from rest_service.storage.connection import insert_new
from rest_service.storage.documents import collection
from rest_service.storage.models import Run, SampleBlock, User
from rest_service.telemetry.metrics import SAMPLES_DUPLICATES, SAMPLES_INGESTED

BLOCK = 1_000  # seqs per block document
# A block is written under a version check; a writer that loses a race reads it again.
MAX_ATTEMPTS = 50
# Up to this many samples for one block are first tried in a single conditional update.
BLIND_WRITE_MAX = 16
LEGACY_COLLECTION = "samples"  # one document per sample, before blocks


class Row(NamedTuple):
    """One sample as stored: its time in ms since the epoch, its CPU and optional fields."""

    ts: int
    cpu: float
    extra: dict[str, Any]


def block_id(run_id: ObjectId, block: int) -> str:
    return f"{run_id}:{block}"


def _row(sample: SampleIn) -> Row:
    extra: dict[str, Any] = sample.figures()
    if sample.per_cpu is not None:
        extra["per_cpu"] = sample.per_cpu
    return Row(to_ms(sample.timestamp), sample.cpu_percent, extra)


def _new_block(run_id: ObjectId, block: int, rows: dict[int, Row]) -> dict[str, Any]:
    ts: list[int | None] = [None] * BLOCK
    cpu: list[float | None] = [None] * BLOCK
    extra: dict[str, dict[str, Any]] = defaultdict(dict)
    for offset, row in rows.items():
        ts[offset], cpu[offset] = row.ts, row.cpu
        for name, value in row.extra.items():
            extra[name][str(offset)] = value
    return {
        "_id": block_id(run_id, block),
        "run_id": run_id,
        "block": block,
        "samples": len(rows),
        "version": 1,
        "ts": ts,
        "cpu": cpu,
        "extra": dict(extra),
    }


def _changes(rows: dict[int, Row]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for offset, row in rows.items():
        changes[f"ts.{offset}"] = row.ts
        changes[f"cpu.{offset}"] = row.cpu
        for name, value in row.extra.items():
            changes[f"extra.{name}.{offset}"] = value
    return changes


async def write_block(run_id: ObjectId, block: int, rows: dict[int, Row]) -> dict[int, Row]:
    """Store the rows (by offset in the block) whose slot is empty; returns those."""
    stored_blocks = collection(SampleBlock)
    key = block_id(run_id, block)
    if len(rows) <= BLIND_WRITE_MAX:  # one update when the slots are empty, as they mostly are
        empty = {f"ts.{offset}": None for offset in rows}
        written = await stored_blocks.update_one(
            {"_id": key, **empty},
            {"$set": _changes(rows), "$inc": {"version": 1, "samples": len(rows)}},
        )
        if written.modified_count:
            return rows
    for _ in range(MAX_ATTEMPTS):
        found = await stored_blocks.find_one({"_id": key}, {"ts": 1, "version": 1})
        if found is None:
            # Inserted as a batch of one: the emulation's bulk path stores it in one pass.
            if not await insert_new(stored_blocks, [_new_block(run_id, block, rows)]):
                continue  # another writer created it first: read it
            return rows
        stored = found["ts"]
        new = {offset: row for offset, row in rows.items() if stored[offset] is None}
        if not new:
            return {}
        result = await stored_blocks.update_one(
            {"_id": key, "version": found["version"]},
            {"$set": _changes(new), "$inc": {"version": 1, "samples": len(new)}},
        )
        if result.modified_count:
            return new
    raise Conflict("Too many concurrent writes to these samples; send them again")


def by_block(rows: Iterable[tuple[int, Row]]) -> dict[int, dict[int, Row]]:
    """Rows by block and offset; the first of a repeated seq wins, as a stored one does."""
    blocks: dict[int, dict[int, Row]] = defaultdict(dict)
    for seq, row in rows:
        block, offset = divmod(seq, BLOCK)
        blocks[block].setdefault(offset, row)
    return blocks


def totals_update(written: list[Row]) -> dict[str, Any]:
    """The run's running figures for Prometheus, moved by the samples just stored: per
    field the sum and count (an exact mean over any window) and the maximum."""
    if not written:
        return {}
    columns: dict[str, list[float]] = {"cpu_usage_percent": [row.cpu for row in written]}
    for row in written:
        for name, value in row.extra.items():
            if name != "per_cpu":
                columns.setdefault(name, []).append(value)
    return {
        "$inc": {
            **{f"totals.{name}.sum": sum(values) for name, values in columns.items()},
            **{f"totals.{name}.count": len(values) for name, values in columns.items()},
        },
        "$max": {f"totals.{name}.max": max(values) for name, values in columns.items()},
    }


class RunState(NamedTuple):
    """What storing samples needs to know of a run: read from its stored document without
    building (and validating) the whole Run."""

    id: ObjectId
    status: str
    max_seq: int
    started_at: datetime
    last_seen_at: datetime | None

    @classmethod
    def of(cls, stored: dict[str, Any]) -> "RunState":
        fields = Run.model_fields
        return cls(
            stored["_id"],
            stored.get("status", fields["status"].default),
            stored.get("max_seq", fields["max_seq"].default),
            stored["started_at"],
            stored.get("last_seen_at"),
        )


async def writable_run(run_id: str, user: User) -> RunState:
    """The run's state if the user may write to it; NotFound like runs.get_run."""
    found = await collection(Run).find_one(run_filter(run_id, user))
    if found is None:
        raise NotFound(RUN_NOT_FOUND)
    return RunState.of(found)


async def add_samples(run: Run | RunState, samples: list[SampleIn]) -> tuple[int, int]:
    """Store new samples; returns (accepted, duplicates). A stored (run, seq) is skipped."""
    if run.status != "running":
        raise Conflict(f"Run is {run.status}; samples can only be added to a running run")
    blocks = by_block((s.seq, _row(s)) for s in samples)
    written: list[Row] = []
    for block, rows in blocks.items():
        written += (await write_block(run.id, block, rows)).values()
    accepted = len(written)
    duplicates = len(samples) - accepted
    SAMPLES_INGESTED.inc(accepted)
    SAMPLES_DUPLICATES.inc(duplicates)
    totals = totals_update(written)
    latest = max(samples, key=lambda s: s.seq)
    now = datetime.now(UTC)
    runs = collection(Run)
    if latest.seq > run.max_seq:
        # Only a newer seq moves these, whatever order batches arrive in.
        newest = {
            "max_seq": latest.seq,
            "last_cpu": latest.cpu_percent,
            "last": latest.figures(),
            "last_seen_at": now,
        }
        moved = await runs.update_one(
            {"_id": run.id, "max_seq": {"$lt": latest.seq}}, {"$set": newest, **totals}
        )
        if moved.modified_count:
            return accepted, duplicates
    elif seen_long_ago(run, now):  # a retry of old seqs: still a sign of life
        totals = {**totals, "$set": {"last_seen_at": now}}
    if totals:
        await runs.update_one({"_id": run.id}, totals)
    return accepted, duplicates


SEEN_RESOLUTION = timedelta(seconds=10)


def seen_long_ago(run: Run | RunState, now: datetime) -> bool:
    """Whether the run's last sign of life is worth a write to refresh."""
    return now - (run.last_seen_at or run.started_at) > SEEN_RESOLUTION


async def delete_samples(run_id: ObjectId) -> None:
    await collection(SampleBlock).delete_many({"run_id": run_id})


async def migrate_legacy_samples(batch: int = 10_000) -> int:
    """Move samples stored one per document (before blocks) into blocks; returns how many
    moved. Safe to interrupt: a batch is written (idempotently) before it is deleted."""
    legacy = collection(SampleBlock).database[LEGACY_COLLECTION]
    moved = 0
    while True:
        docs = await legacy.find({}).sort([("run_id", 1), ("seq", 1)]).limit(batch).to_list(None)
        if not docs:
            return moved
        runs: dict[ObjectId, list[tuple[int, Row]]] = defaultdict(list)
        for doc in docs:
            stamp = doc["timestamp"]
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            extra = {} if doc.get("per_cpu") is None else {"per_cpu": doc["per_cpu"]}
            runs[doc["run_id"]].append((doc["seq"], Row(to_ms(stamp), doc["cpu_percent"], extra)))
        for run_id, rows in runs.items():
            for block, block_rows in by_block(rows).items():
                await write_block(run_id, block, block_rows)
        await legacy.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
        moved += len(docs)

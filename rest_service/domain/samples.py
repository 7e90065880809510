"""Operations on CPU samples, stored in blocks: ingest with duplicate detection, paging,
CSV export, deletion, and the migration of samples stored one per document.

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

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from rest_service.domain.errors import Conflict
from rest_service.domain.schemas import (
    MAX_PER_CPU_VALUES,
    SAMPLE_FIELDS,
    SampleIn,
    from_ms,
    to_ms,
)
from rest_service.storage.documents import collection
from rest_service.storage.models import Run, SampleBlock
from rest_service.telemetry.metrics import SAMPLES_DUPLICATES, SAMPLES_INGESTED

BLOCK = 1_000  # seqs per block document
# Blocks fetched per query while exporting a run: a few MB at most in memory at once.
EXPORT_WINDOW = 10
# A block is written under a version check; a writer that loses a race reads it again.
MAX_ATTEMPTS = 50
# Up to this many samples for one block are first tried in a single conditional update.
BLIND_WRITE_MAX = 16
LEGACY_COLLECTION = "samples"  # one document per sample, before blocks
CSV_COLUMNS = ("seq", "timestamp", "cpu_percent", "per_cpu", *SAMPLE_FIELDS)


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
            try:
                await stored_blocks.insert_one(_new_block(run_id, block, rows))
            except DuplicateKeyError:
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


async def add_samples(run: Run, samples: list[SampleIn]) -> tuple[int, int]:
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


def seen_long_ago(run: Run, now: datetime) -> bool:
    """Whether the run's last sign of life is worth a write to refresh."""
    return now - (run.last_seen_at or run.started_at) > SEEN_RESOLUTION


async def blocks_from(
    run: Run, first: int, window: int, fields: dict[str, int] | None = None
) -> AsyncGenerator[dict[str, Any]]:
    """The run's stored blocks from block ``first`` on, in order, ``window`` per query:
    by ``_id`` while the blocks follow one another, by the (run_id, block) index across a
    gap (seqs may jump)."""
    stored_blocks = collection(SampleBlock)
    last = run.max_seq // BLOCK
    block = first
    while block <= last:
        ids = [block_id(run.id, b) for b in range(block, min(block + window, last + 1))]
        docs = (
            await stored_blocks.find({"_id": {"$in": ids}}, fields).sort("block", 1).to_list(None)
        )
        for doc in docs:
            yield doc
        block += len(ids)
        if not docs:  # a gap: where do the run's blocks go on?
            following = stored_blocks.find(
                {"run_id": run.id, "block": {"$gte": block}}, {"block": 1}
            )
            found = await following.sort("block", 1).limit(1).to_list(None)
            if not found:
                return
            block = found[0]["block"]


def rows_of(
    doc: dict[str, Any], start_seq: int = 0
) -> list[tuple[int, int, float, dict[str, Any]]]:
    """A block's samples from ``start_seq`` on, in seq order: (seq, ts ms, cpu, the optional
    fields it carries)."""
    base = doc["block"] * BLOCK
    ts, cpu = doc["ts"], doc["cpu"]
    extra: dict[str, dict[str, Any]] = doc.get("extra") or {}
    offsets = range(max(start_seq - base, 0), BLOCK)
    if not extra:
        return [(base + o, ts[o], cpu[o], {}) for o in offsets if ts[o] is not None]
    columns = list(extra.items())
    return [
        (
            base + o,
            ts[o],
            cpu[o],
            {name: values[key] for name, values in columns if (key := str(o)) in values},
        )
        for o in offsets
        if ts[o] is not None
    ]


def sample_out(seq: int, stamp: int, cpu: float, extra: dict[str, Any]) -> dict[str, Any]:
    """A sample as pages show it: per_cpu always, other optional fields when present."""
    return {
        "seq": seq,
        "timestamp": from_ms(stamp),
        "cpu_percent": cpu,
        "per_cpu": extra.get("per_cpu"),
        **{name: value for name, value in extra.items() if name != "per_cpu"},
    }


async def sample_page(
    run: Run, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` samples with seq > after_seq, in seq order, and the next after_seq.
    A page ends sooner when its per_cpu values reach MAX_PER_CPU_VALUES, so that its size
    stays bounded whatever the machine's CPU count."""
    start = after_seq + 1
    items: list[dict[str, Any]] = []
    values = 0
    window = (start % BLOCK + limit - 1) // BLOCK + 1  # the blocks a page without gaps spans
    blocks = blocks_from(run, start // BLOCK, window)
    try:
        async for doc in blocks:
            rows = rows_of(doc, start)[: limit - len(items)]
            if "per_cpu" in (doc.get("extra") or {}):
                for taken, row in enumerate(rows):
                    values += len(row[3].get("per_cpu") or ())
                    if values > MAX_PER_CPU_VALUES and (items or taken):
                        rows = rows[:taken]
                        limit = len(items) + taken  # the page is full
                        break
            items += [sample_out(*row) for row in rows]
            if len(items) == limit:
                return items, items[-1]["seq"]
    finally:
        await blocks.aclose()
    return items, None


def _csv_figures(extra: dict[str, Any]) -> str:
    per = extra.get("per_cpu")
    cells = [";".join(map(repr, per)) if per else ""]
    cells += [
        repr(value) if (value := extra.get(name)) is not None else "" for name in SAMPLE_FIELDS
    ]
    return ",".join(cells)


def csv_rows(doc: dict[str, Any] | None, header: bool = False) -> str:
    """CSV lines (``\r\n``, as the csv module writes them) for a block's samples, an empty
    cell for a field a sample lacks. No value ever needs quoting: numbers, an ISO time, and
    per_cpu joined with ";"."""
    lines = [",".join(CSV_COLUMNS) + "\r\n"] if header else []
    if doc is not None:
        lines += [
            f"{seq},{from_ms(stamp).isoformat()},{cpu!r},{_csv_figures(extra)}\r\n"
            for seq, stamp, cpu, extra in rows_of(doc)
        ]
    return "".join(lines)


async def samples_csv(run: Run) -> AsyncIterator[str]:
    """The run's samples as CSV text chunks, header first, one chunk per block."""
    yield csv_rows(None, header=True)
    async for doc in blocks_from(run, 0, EXPORT_WINDOW):
        yield csv_rows(doc)
        # A driver hands out a fetched batch without suspending, and the emulation never
        # suspends at all: yield between blocks so that a long export shares the loop.
        await asyncio.sleep(0)


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

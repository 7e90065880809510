"""Operations on test runs: create, find with ownership, list with a cursor, finish, delete."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from starlette.concurrency import run_in_threadpool

from rest_service.domain import caps
from rest_service.domain.cursors import decode_cursor, encode_cursor, invalid_cursor
from rest_service.domain.errors import Conflict, NotFound
from rest_service.domain.events import delete_events
from rest_service.domain.ownership import RUN_NOT_FOUND, run_filter, visible_runs
from rest_service.domain.sample_reads import blocks_from, rows_of
from rest_service.domain.samples import delete_samples
from rest_service.domain.schemas import RunIn, Summary, to_millis
from rest_service.domain.summary import (
    BlockFigures,
    Figures,
    Point,
    block_figures,
    combine,
    merge_figures,
    summarize,
)
from rest_service.storage.documents import collection, load, stored
from rest_service.storage.models import Run, RunStatus, SampleBlock, User
from rest_service.telemetry.active_runs import ActiveRun
from rest_service.telemetry.cache import MonitoredTTLCache
from rest_service.telemetry.metrics import RUNS_ENDED

SummaryCache = MonitoredTTLCache[ObjectId, Summary]
# Block figures by (block id, version, threshold): a version is written once, so an entry
# is never stale; a running run's summary reads only the blocks written since.
BLOCK_FIGURES: MonitoredTTLCache[tuple[str, int, float | None], BlockFigures] = MonitoredTTLCache(
    "block_figures", maxsize=2_000, ttl=3600
)
VERSIONS_WINDOW = 1_000  # blocks listed per query
FIGURES_WINDOW = 50  # blocks read per query to compute their figures
log = logging.getLogger("rest_service")


def _now() -> datetime:
    return to_millis(datetime.now(UTC))


async def create_run(owner: User, data: RunIn, max_open: int) -> Run:
    """A new running run; Conflict when the owner has ``max_open`` running already."""
    run = Run(
        name=data.name,
        host=data.host,
        threshold=data.threshold,
        tags=data.tags,
        started_at=_now(),
        owner=owner.id,
    )
    async with caps.slot_for(caps.OPEN_RUNS, owner.id, run.id, max_open):
        await collection(Run).insert_one(stored(run))
    return run


async def get_run(run_id: str, user: User) -> Run:
    """The run if the user may see it; another user's run is NotFound, like a missing one."""
    # Every sample POST starts here: the raw lookup costs half of Beanie's.
    run = load(Run, await collection(Run).find_one(run_filter(run_id, user)))
    if run is None:
        raise NotFound(RUN_NOT_FOUND)
    return run


async def list_runs(
    user: User, status: RunStatus | None, limit: int, cursor: str | None
) -> tuple[list[Run], str | None]:
    """The user's runs (all runs for an admin), newest first, and the next page's cursor."""
    query: dict[str, Any] = visible_runs(user)
    if status is not None:
        query["status"] = status
    if cursor is not None:
        started_at, key = decode_cursor(cursor)
        try:
            run_id = ObjectId(key)
        except InvalidId:
            raise invalid_cursor() from None
        query["$or"] = [
            {"started_at": {"$lt": started_at}},
            {"started_at": started_at, "_id": {"$lt": run_id}},
        ]
    found = collection(Run).find(query).sort([("started_at", -1), ("_id", -1)]).limit(limit + 1)
    runs = [Run.model_validate(raw) async for raw in found]
    if len(runs) > limit:
        last = runs[limit - 1]
        return runs[:limit], encode_cursor(last.started_at, last.id)
    return runs, None


async def end_run(run_id: str, user: User, status: RunStatus) -> Run:
    """Move a running run to finished or aborted; any other move is a Conflict."""
    raw = await collection(Run).find_one_and_update(
        {**run_filter(run_id, user), "status": "running"},
        {"$set": {"status": status, "ended_at": _now()}},
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        run = await get_run(run_id, user)  # NotFound when it isn't there or isn't theirs
        raise Conflict(f"Run is already {run.status}")
    await caps.give_back(caps.OPEN_RUNS, ObjectId(raw["_id"]))
    RUNS_ENDED.labels(status=status).inc()
    return Run.model_validate(raw)  # type: ignore[no-any-return]


async def delete_run(run_id: str, user: User, summaries: SummaryCache) -> Run:
    run = await get_run(run_id, user)
    await collection(Run).delete_one({"_id": run.id})
    await caps.give_back(caps.OPEN_RUNS, run.id)
    await delete_samples(run.id)
    await delete_events(run)
    summaries.pop(run.id, None)
    return run


async def run_summary(run: Run, summaries: SummaryCache) -> Summary:
    """The summary of the run's samples, from its blocks' figures (see summary.py). A
    finished or aborted run's never changes, so it is cached whole (other workers' stale
    entries are harmless: a deleted run is not found)."""
    if run.status != "running":
        cached: Summary | None = summaries.get(run.id)
        if cached is not None:
            return cached
    ended_at = run.ended_at or _now()
    threshold = run.threshold
    listed = [doc async for doc in blocks_from(run, 0, VERSIONS_WINDOW, {"version": 1, "block": 1})]
    figures: dict[str, BlockFigures] = {}
    missing: list[str] = []
    for doc in listed:
        found = BLOCK_FIGURES.get((doc["_id"], doc["version"], threshold))
        if found is None:
            missing.append(doc["_id"])
        else:
            figures[doc["_id"]] = found
    stored_blocks = collection(SampleBlock)
    for start in range(0, len(missing), FIGURES_WINDOW):
        ids = missing[start : start + FIGURES_WINDOW]
        docs = await stored_blocks.find({"_id": {"$in": ids}}).to_list(None)
        computed = await run_in_threadpool(_figures_of, docs, threshold)
        for doc, block in zip(docs, computed, strict=True):
            if block is not None:
                BLOCK_FIGURES[(doc["_id"], doc["version"], threshold)] = block
                figures[doc["_id"]] = block
    ordered = [figures[doc["_id"]] for doc in listed if doc["_id"] in figures]
    summary = await run_in_threadpool(combine, ordered, threshold, run.started_at, ended_at)
    if summary is None:  # blocks overlap in time: from every sample
        blocks = [_points(doc) async for doc in blocks_from(run, 0, FIGURES_WINDOW)]
        points = [point for block_points, _ in blocks for point in block_points]
        figures_of_run = merge_figures(block_figures for _, block_figures in blocks)
        summary = await run_in_threadpool(
            summarize, points, threshold, run.started_at, ended_at, figures_of_run
        )
    if run.status != "running":
        summaries[run.id] = summary
    return summary


def _points(doc: dict[str, Any]) -> tuple[list[Point], Figures]:
    """A block's (time, cpu) points, and its optional fields' values (per_cpu aside)."""
    points: list[Point] = []
    figures: Figures = {}
    for _, stamp, cpu, extra in rows_of(doc):
        points.append((stamp, cpu))
        for name, value in extra.items():
            if name != "per_cpu":
                figures.setdefault(name, []).append(value)
    return points, figures


def _figures_of(docs: list[dict[str, Any]], threshold: float | None) -> list[BlockFigures | None]:
    found: list[BlockFigures | None] = []
    for doc in docs:
        points, figures = _points(doc)
        found.append(block_figures(points, threshold, figures))
    return found


async def abandon_silent_runs(silence: timedelta, now: datetime | None = None) -> int:
    """Close every running run that no client has written to for ``silence``: status
    "abandoned", ended when it was last heard from. Returns how many were closed."""
    cutoff = (now or datetime.now(UTC)) - silence
    silent = {
        "status": "running",
        "$or": [
            {"last_seen_at": {"$lt": cutoff}},
            {"last_seen_at": None, "started_at": {"$lt": cutoff}},
        ],
    }
    runs = collection(Run)
    closed = 0
    async for doc in runs.find(silent, {"last_seen_at": 1, "started_at": 1}):
        ended = doc.get("last_seen_at") or doc["started_at"]
        # The same condition again: a sample may have arrived since the find.
        result = await runs.update_one(
            {**silent, "_id": doc["_id"]}, {"$set": {"status": "abandoned", "ended_at": ended}}
        )
        if result.modified_count:
            await caps.give_back(caps.OPEN_RUNS, doc["_id"])
            RUNS_ENDED.labels(status="abandoned").inc()
            closed += 1
    return closed


async def close_silent_runs_forever(silence: timedelta) -> None:
    """The lifespan's background task: look for silent runs a few times per timeout."""
    period = min(60.0, silence.total_seconds() / 4)
    while True:
        await asyncio.sleep(period)
        try:
            closed = await abandon_silent_runs(silence)
        except Exception:  # a database hiccup must not end the task
            log.exception("could not close silent runs")
            continue
        if closed:
            log.warning("closed %d run(s) silent for over %s as abandoned", closed, silence)


async def active_runs() -> list[ActiveRun]:
    """Every running run, for the scrape-time gauges."""
    fields = {"_id": 1, "host": 1, "threshold": 1, "last_cpu": 1, "last": 1, "totals": 1}
    docs = await collection(Run).find({"status": "running"}, fields).to_list(None)
    return [
        ActiveRun(
            run_id=str(doc["_id"]),
            host=doc.get("host") or "",
            threshold=doc.get("threshold"),
            last_cpu=doc.get("last_cpu"),
            last=doc.get("last") or {},
            totals=doc.get("totals") or {},
        )
        for doc in docs
    ]

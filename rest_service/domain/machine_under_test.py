"""The machine under test beside a load test: its CPU over the load test's measured
window, read from the cpu-monitor runs that carry the load test's tag (a label given to
both: ``--monitor-tag`` of loadkit, ``--tag`` of cpu-monitor)."""

from datetime import UTC, datetime
from typing import Any

from rest_service.domain.sample_reads import EXPORT_WINDOW, blocks_from, rows_of
from rest_service.domain.summary import percentile
from rest_service.storage.documents import collection
from rest_service.storage.models import Run, User

MAX_MONITOR_RUNS = 10  # tagged runs overlapping one load test that are read


async def tagged_runs(owner: str, tag: str, since: float, until: float) -> list[Run]:
    """The cpu-monitor runs tagged ``tag`` that overlap [since, until], visible to
    ``owner`` (its own; every one for an admin)."""
    user = await collection(User).find_one({"_id": owner}, {"is_admin": 1})
    start, stop = (datetime.fromtimestamp(t, UTC) for t in (since, until))
    query: dict[str, Any] = {
        "tags": tag,
        "started_at": {"$lte": stop},
        "$or": [{"ended_at": None}, {"ended_at": {"$gte": start}}],
    }
    if not (user and user.get("is_admin")):
        query["owner"] = owner
    found = collection(Run).find(query).sort("started_at", 1).limit(MAX_MONITOR_RUNS)
    return [Run.model_validate(raw) async for raw in found]


async def monitor_runs(run_ids: list[str]) -> list[Run]:
    """The cpu-monitor runs a load test's figures were read from, that are still there."""
    from bson import ObjectId

    ids = [ObjectId(i) for i in run_ids if ObjectId.is_valid(i)]
    found = collection(Run).find({"_id": {"$in": ids}}).sort("started_at", 1)
    return [Run.model_validate(raw) async for raw in found]


async def host_cpu(owner: str, tag: str, since: float, until: float) -> dict[str, Any]:
    """CPU p50 and p95 of every sample of the tagged runs within [since, until]."""
    runs = await tagged_runs(owner, tag, since, until)
    low, high = since * 1000, until * 1000
    values: list[float] = []
    for run in runs:
        async for doc in blocks_from(run, 0, EXPORT_WINDOW, {"block": 1, "ts": 1, "cpu": 1}):
            values.extend(cpu for _, ts, cpu, _ in rows_of(doc) if low <= ts <= high)
    values.sort()
    return {
        "p50": percentile(values, 0.50) if values else None,
        "p95": percentile(values, 0.95) if values else None,
        "samples": len(values),
        "runs": [str(run.id) for run in runs],
    }

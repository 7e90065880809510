"""What loadkit computed of load tests, kept in the service: the kept estimates of each
run and a run's comparison, written in one request; and what dashboards read of them:
an endpoint's trend over the runs, its change points, a run's requests per second."""

import math
import time
from typing import Any

from rest_service.domain.errors import NotFound
from rest_service.domain.load_tests import LISTED, get, iso, namespace
from rest_service.domain.schemas.load_tests import (
    ChangePointOut,
    ComparisonOut,
    EndpointOut,
    EstimatesOut,
    ResultsIn,
    TimelinePoint,
    TrendPoint,
)
from rest_service.storage.documents import collection, load
from rest_service.storage.load_test_models import LoadTest, LoadTestComparison
from rest_service.storage.models import User

Z95 = 1.959964  # a 95 % interval's half-width in standard errors
MAX_TREND_RUNS = 500


async def save(user: User, body: ResultsIn) -> None:
    """Every run named must be the caller's (an admin's: any). Checked before anything is
    written, so a refused request writes nothing."""
    ids = {e.run_id for e in body.estimates}
    if body.comparison is not None:
        ids.add(body.comparison.run_id)
    tests = {i: await get(i, user, LISTED) for i in ids}
    baseline_label = None
    if body.comparison is not None and body.comparison.baseline_id is not None:
        baseline_label = (await get(body.comparison.baseline_id, user, LISTED)).label
    for kept in body.estimates:
        rows = [row.model_dump() for row in kept.rows]
        names = sorted({f"{row.request_type} {row.name}" for row in kept.rows})
        await collection(LoadTest).update_one(
            {"_id": kept.run_id},
            {"$set": {"estimates": {"version": kept.version, "rows": rows}, "estimated": names}},
        )
    compared = body.comparison
    if compared is None:
        return
    document = LoadTestComparison(
        id=compared.run_id,
        baseline_id=compared.baseline_id,
        baseline_label=baseline_label,
        created_at=time.time(),
        verdict=compared.verdict,
        json_text=compared.json_text,
        banner=compared.banner,
        html=compared.html,
    ).model_dump(by_alias=True)
    document["change_points"] = [cp.model_dump() for cp in compared.change_points]
    await collection(LoadTestComparison).replace_one(
        {"_id": compared.run_id}, document, upsert=True
    )
    await collection(LoadTest).update_one(
        {"_id": tests[compared.run_id].id}, {"$set": {"verdict": compared.verdict}}
    )


async def estimates(test_id: int, user: User) -> EstimatesOut:
    test = await get(test_id, user, {"timeline": 0})
    if test.estimates is None:
        raise NotFound(f"No estimates kept for load test {test.label!r}")
    return EstimatesOut(**test.estimates)


async def comparison(test_id: int, user: User) -> ComparisonOut:
    test = await get(test_id, user, LISTED)
    found = load(
        LoadTestComparison, await collection(LoadTestComparison).find_one({"_id": test.id})
    )
    if found is None:
        raise NotFound(f"Load test {test.label!r} has no comparison")
    return ComparisonOut(
        run_id=found.id,
        baseline_id=found.baseline_id,
        baseline_label=found.baseline_label,
        created_at=found.created_at,
        verdict=found.verdict,
        json_text=found.json_text,
        banner=found.banner,
        html=found.html,
    )


async def trend(
    user: User, owner: str | None, request_type: str, name: str, locustfile_hash: str | None
) -> list[TrendPoint]:
    """Each closed run with kept estimates of the endpoint, oldest first (the newest
    MAX_TREND_RUNS): its p50, p95 and p99 and their 95 % intervals."""
    query: dict[str, Any] = {
        "owner": namespace(user, owner),
        "estimated": f"{request_type} {name}",
    }
    if locustfile_hash:
        query["locustfile_hash"] = locustfile_hash
    fields = {"label": 1, "started_at": 1, "verdict": 1, "estimates": 1}
    found = collection(LoadTest).find(query, fields).sort("_id", -1).limit(MAX_TREND_RUNS)
    points = []
    async for raw in found:
        values: dict[str, float | None] = {}
        known = set(TrendPoint.model_fields)
        for row in raw["estimates"]["rows"]:
            if row["request_type"] != request_type or row["name"] != name:
                continue
            q, value, se = row["quantile"], row["value"], row["se_log"]
            if q not in known:
                continue
            values[q] = value
            spread = None if value is None or se is None else math.exp(Z95 * se)
            values[f"{q}_low"] = None if spread is None else value / spread
            values[f"{q}_high"] = None if spread is None else value * spread
        points.append(
            TrendPoint(
                id=raw["_id"],
                label=raw["label"],
                time=iso(raw["started_at"]),
                verdict=raw.get("verdict"),
                **values,
            )
        )
    return points[::-1]


async def endpoints(user: User, owner: str | None) -> list[EndpointOut]:
    """Every endpoint with kept estimates in the owner's runs, as "METHOD name"."""
    names = await collection(LoadTest).distinct("estimated", {"owner": namespace(user, owner)})
    return [EndpointOut(id=name) for name in sorted(str(name) for name in names)]


async def change_points(
    user: User, owner: str | None, request_type: str, name: str
) -> list[ChangePointOut]:
    """The change points of an endpoint, as the newest comparison that looked at the
    history of the owner's runs found them; each at the start of the run that begins it."""
    who = namespace(user, owner)
    mine = [
        raw["_id"]
        async for raw in collection(LoadTest)
        .find({"owner": who}, {"_id": 1})
        .sort("_id", -1)
        .limit(MAX_TREND_RUNS)
    ]
    newest = await collection(LoadTestComparison).find_one(
        {"_id": {"$in": mine}, "change_points.0": {"$exists": True}}, sort=[("_id", -1)]
    )
    if newest is None:
        return []
    found = []
    for cp in newest["change_points"]:
        if cp["request_type"] != request_type or cp["name"] != name:
            continue
        run = await collection(LoadTest).find_one(
            {"owner": who, "label": cp["run"]}, {"started_at": 1}
        )
        if run is None:
            continue
        found.append(
            ChangePointOut(
                time=iso(run["started_at"]),
                label=cp["run"],
                endpoint=f"{request_type} {name}",
                text=f"{cp['quantile']} {cp['change']:+.1%} from run {cp['run']}",
            )
        )
    return found


async def timeline(test_id: int, user: User) -> list[TimelinePoint]:
    test = await get(test_id, user, {"estimates": 0})
    seconds, requests = test.timeline.get("seconds", []), test.timeline.get("requests", [])
    return [
        TimelinePoint(time=iso(second), requests=int(n))
        for second, n in zip(seconds, requests, strict=True)
    ]


async def report_html(test_id: int, user: User) -> str:
    """The comparison as a page of its own."""
    found = await comparison(test_id, user)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>loadwatch: load test {found.run_id}</title></head><body>{found.html}</body></html>"
    )

"""Operations on run events: validate a batch against the registry, store it, page it.

A batch is all or nothing: every event is checked first, and one bad event stores none.
Each rejected event is counted in ``loadwatch_events_rejected_total`` and kept, with its reason, in
``rejected_events``: one ring per user of their last REJECTED_CAPACITY rejections, so that
one user's bad batches never push out another's. Slots have deterministic ``_id``s (user
and slot number): each ring is bounded by count with plain upserts, and each slot's
text is cut to a bounded length, so the collection's size is known in advance; a capped
collection would bound bytes instead and need its size chosen at creation.

Ingest is the hot path (tens of thousands of events a second on one core), so a valid
batch costs one pydantic-core call on the raw body, one update of the run (which both
checks that the user may see it and counts the batch) and one insert. Only a refused
batch is looked at again, event by event, to say what is wrong with each.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pymongo import ReturnDocument

from rest_service.domain.cursors import decode_cursor, encode_cursor
from rest_service.domain.errors import Conflict, InvalidInput, NotFound
from rest_service.domain.event_kinds import CATEGORIES, KINDS, MEASUREMENT_CATEGORIES
from rest_service.domain.ownership import RUN_NOT_FOUND, run_filter
from rest_service.domain.schemas import (
    FUTURE_MESSAGE,
    MAX_EVENTS_PER_POST,
    MAX_KEPT_CHARS,
    EventsIn,
    EventTime,
    RejectionReason,
    in_future,
    to_ms,
)
from rest_service.storage.connection import insert_new
from rest_service.storage.documents import collection
from rest_service.storage.models import Counter, Event, RejectedEvent, Run, User
from rest_service.telemetry.metrics import EVENTS_REJECTED, EVENTS_STORED

REJECTED_CAPACITY = MAX_EVENTS_PER_POST


class Envelope(BaseModel):
    """What every event has, whatever its kind."""

    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    timestamp: EventTime
    data: dict[str, Any] = Field(default_factory=dict)


# One envelope per kind, its data checked by the kind's model.
_KIND_EVENTS: dict[tuple[str, str], type[Envelope]] = {
    (category, name): create_model(
        f"{model.__name__}Event",
        __base__=Envelope,
        category=(Literal[category], ...),  # type: ignore[arg-type]
        name=(Literal[name], ...),  # type: ignore[arg-type]
        data=(model, ...),
    )
    for (category, name), model in KINDS.items()
}


def _tagged(field: str, members: list[Any]) -> Any:
    """A union that pydantic-core picks from by the literal ``field``, without trying each."""
    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Field(discriminator=field)]  # noqa: UP007


def _any_kind() -> Any:
    by_category: dict[str, list[type[Envelope]]] = {}
    for (category, _), envelope in _KIND_EVENTS.items():
        by_category.setdefault(category, []).append(envelope)
    return _tagged("category", [_tagged("name", kinds) for kinds in by_category.values()])


if TYPE_CHECKING:  # each member is a subclass of Envelope
    AnyKindEvent = Envelope
else:
    AnyKindEvent = _any_kind()


class _Batch(BaseModel):
    """The whole body, each event checked against its kind's model: one call for a
    batch that is valid, as nearly every batch is."""

    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[AnyKindEvent], Field(min_length=1, max_length=MAX_EVENTS_PER_POST)]


def batch_json_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch's JSON schema, every registered kind spelled out, for OpenAPI: the schema
    with references into the document's components, and those components."""
    schema = _Batch.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    _drop_nested_discriminators(schema)
    _drop_nested_discriminators(components)
    return schema, components


def _drop_nested_discriminators(node: Any) -> None:
    """OpenAPI's discriminator maps a value to a $ref; the union by category maps each to
    an inline union by name, which OpenAPI tools refuse. Without the keyword the oneOf
    stays, and still names every kind."""
    if isinstance(node, dict):
        mapping = node.get("discriminator", {}).get("mapping", {})
        if any(not isinstance(target, str) for target in mapping.values()):
            del node["discriminator"]
        for value in node.values():
            _drop_nested_discriminators(value)
    elif isinstance(node, list):
        for value in node:
            _drop_nested_discriminators(value)


def _valid_batch(body: bytes, now: datetime) -> list[dict[str, Any]] | None:
    """The batch's events as documents' fields, or None when anything is wrong with it."""
    try:
        batch = _Batch.model_validate_json(body)
    except ValidationError:
        return None
    if any(in_future(event.timestamp, now) for event in batch.events):
        return None
    events: list[dict[str, Any]] = batch.model_dump()["events"]
    return events


@dataclass(frozen=True)
class Rejection:
    index: int
    category: str  # a known category or "unknown": a bounded label value
    reason: RejectionReason
    detail: str
    event: Any


class InvalidBody(InvalidInput):
    """422 for a body that is no batch at all, in the form FastAPI answers for any body."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(str(error))
        self.detail = [
            {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]}
            for e in error.errors(include_url=False)
        ]


class EventsRejected(InvalidInput):
    """422 with one entry per rejected event; nothing of the batch was stored."""

    def __init__(self, rejections: list[Rejection], total: int) -> None:
        super().__init__(f"{len(rejections)} of {total} events rejected; none stored")
        self.detail = [{"index": r.index, "reason": r.reason, "msg": r.detail} for r in rejections]


def _errors_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in error.errors()
    )


def _check(index: int, raw: Any, now: datetime) -> dict[str, Any] | Rejection:
    """One event on its own: its fields, or why it is refused."""
    category = raw.get("category") if isinstance(raw, dict) else None
    label = category if category in CATEGORIES else "unknown"
    # Checked from JSON text, as the batch is, so that both read a value alike.
    text = json.dumps(raw)
    try:
        envelope = Envelope.model_validate_json(text)
    except ValidationError as error:
        return Rejection(index, label, "malformed", _errors_text(error), raw)
    kind = _KIND_EVENTS.get((envelope.category, envelope.name))
    if kind is None:
        detail = f"unknown event kind {envelope.category}/{envelope.name}"
        return Rejection(index, label, "unknown_kind", detail, raw)
    if in_future(envelope.timestamp, now):
        return Rejection(index, label, "future_timestamp", FUTURE_MESSAGE, raw)
    try:
        return kind.model_validate_json(text).model_dump()
    except ValidationError as error:
        return Rejection(index, label, "invalid_data", _errors_text(error), raw)


def event_id(run_id: str, event: dict[str, Any]) -> str:
    """The same event, sent again, gets the same id. Its data was dumped from the kind's
    model (flat, keys in the model's order), so its repr is canonical; its time counts
    in milliseconds, as stored."""
    millis = to_ms(event["timestamp"])
    content = repr((run_id, event["category"], event["name"], millis, event["data"]))
    return hashlib.blake2b(content.encode(), digest_size=16).hexdigest()


async def add_events(run_id: str, body: bytes, user: User) -> int:
    """Store every event of the batch or none; returns how many were accepted."""
    now = datetime.now(UTC)
    batch = _valid_batch(body, now)
    if batch is None:
        batch = await _explain_refusal(run_id, body, user, now)
    run = run_filter(run_id, user)
    object_id = run["_id"]
    key = str(object_id)
    docs = [{"_id": event_id(key, e), "run_id": object_id, **e} for e in batch]
    runs = collection(Run)
    measures = any(e["category"] in MEASUREMENT_CATEGORIES for e in batch)
    target = {**run, "status": "running"} if measures else run
    # One call checks that the user may see the run and counts the batch in advance.
    counted = await runs.update_one(
        target, {"$inc": {"event_count": len(docs)}, "$set": {"last_seen_at": now}}
    )
    if counted.matched_count == 0:
        found = await runs.find_one(run, {"status": 1}) if measures else None
        if found is None:
            raise NotFound(RUN_NOT_FOUND)
        kinds = ", ".join(sorted(MEASUREMENT_CATEGORIES))
        raise Conflict(
            f"Run is {found['status']}: measurement events ({kinds}) can only be added to a "
            "running run; notes and deploys can be added at any time"
        )
    inserted = 0
    try:
        inserted = await insert_new(collection(Event), docs)
    finally:  # a retried batch: what was stored already is stored, and counted, once
        if inserted < len(docs):
            await runs.update_one(
                {"_id": object_id}, {"$inc": {"event_count": inserted - len(docs)}}
            )
    EVENTS_STORED.inc(inserted)
    return len(docs)


async def _explain_refusal(
    run_id: str, body: bytes, user: User, now: datetime
) -> list[dict[str, Any]]:
    """Why the batch check failed, in order: a body that is no batch (422, like any invalid
    body), a run the user may not see (404), then each bad event with its reason (422; each
    counted and kept). Returns the batch if every event passes on its own after all."""
    try:
        raw_events = EventsIn.model_validate_json(body).events
    except ValidationError as error:
        raise InvalidBody(error) from None
    run = run_filter(run_id, user)
    if await collection(Run).find_one(run, {"_id": 1}) is None:
        raise NotFound(RUN_NOT_FOUND)
    checked = [_check(i, raw, now) for i, raw in enumerate(raw_events)]
    rejections = [c for c in checked if isinstance(c, Rejection)]
    if rejections:
        await _keep_rejections(str(run["_id"]), user.id, rejections, now)
        raise EventsRejected(rejections, len(raw_events))
    return [c for c in checked if not isinstance(c, Rejection)]


async def _keep_rejections(
    run_id: str, username: str, rejections: list[Rejection], now: datetime
) -> None:
    for rejection in rejections:
        EVENTS_REJECTED.labels(category=rejection.category, reason=rejection.reason).inc()
    counter = await collection(Counter).find_one_and_update(
        {"_id": f"rejected_events:{username}"},
        {"$inc": {"value": len(rejections)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    first = int(counter["value"]) - len(rejections)
    ring = collection(RejectedEvent)
    # A batch holds at most MAX_EVENTS_PER_POST == REJECTED_CAPACITY events: no slot twice.
    for position, rejection in enumerate(rejections, start=first):
        await ring.replace_one(
            {"_id": f"{username}:{position % REJECTED_CAPACITY}"},
            {
                "position": position,
                "received_at": now,
                "run_id": run_id,
                "username": username,
                "category": rejection.category,
                "reason": rejection.reason,
                "detail": _kept(rejection.detail),
                "event": _kept_event(rejection.event),
            },
            upsert=True,
        )


def _kept(text: str) -> str:
    """Text any store keeps: valid UTF-8 (a lone surrogate escaped), no NUL, bounded."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\0")
    return safe if len(safe) <= MAX_KEPT_CHARS else safe[:MAX_KEPT_CHARS] + "…"


def _kept_event(event: Any) -> str:
    """The rejected event as its JSON text, never as the client's own structure: that may
    hold integers beyond 64 bits, NULs in keys or nesting deeper than MongoDB takes."""
    try:
        return _kept(json.dumps(event, ensure_ascii=True, default=str))
    except (ValueError, RecursionError):
        return _kept(repr(event))


async def event_page(
    run: Run,
    category: str | None,
    name: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The run's events in timestamp order (ties by id), and the next page's cursor."""
    query: dict[str, Any] = {"run_id": run.id}
    if category is not None:
        query["category"] = category
    if name is not None:
        query["name"] = name
    window: dict[str, datetime] = {}
    if since is not None:
        window["$gte"] = since
    if until is not None:
        window["$lt"] = until
    if window:
        query["timestamp"] = window
    if cursor is not None:
        after, key = decode_cursor(cursor)
        query["$or"] = [{"timestamp": {"$gt": after}}, {"timestamp": after, "_id": {"$gt": key}}]
    docs = (
        await collection(Event)
        .find(query)
        .sort([("timestamp", 1), ("_id", 1)])
        .limit(limit + 1)
        .to_list(None)
    )
    next_cursor = None
    if len(docs) > limit:
        docs = docs[:limit]
        next_cursor = encode_cursor(docs[-1]["timestamp"], docs[-1]["_id"])
    return docs, next_cursor


async def delete_events(run: Run) -> None:
    await collection(Event).delete_many({"run_id": run.id})


async def rejected_events(limit: int, username: str | None = None) -> list[dict[str, Any]]:
    """The last rejected events (of ``username``, or of everyone), newest first."""
    query = {} if username is None else {"username": username}
    order = [("received_at", -1), ("position", -1)]
    found = collection(RejectedEvent).find(query).sort(order).limit(limit)
    docs: list[dict[str, Any]] = await found.to_list(None)
    return docs

"""Operations on run events: validate a batch against the registry, store it, page it.

A batch is all or nothing: every event is checked first, and one bad event stores none.
Each rejected event is counted in ``events_rejected_total`` and kept, with its reason, in
``rejected_events``: a ring of the last REJECTED_CAPACITY rejections whose slots have
deterministic ``_id``s, which caps its size on a real MongoDB and on the embedded
emulation alike (mongomock has no capped collections).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError

from rest_service.cursors import decode_cursor, encode_cursor
from rest_service.errors import InvalidInput
from rest_service.event_kinds import CATEGORIES, KINDS
from rest_service.metrics import EVENTS_REJECTED, EVENTS_STORED
from rest_service.models import Counter, Event, RejectedEvent, Run
from rest_service.schemas import FUTURE_MESSAGE, MAX_EVENTS_PER_POST, Timestamp, in_future

REJECTED_CAPACITY = MAX_EVENTS_PER_POST
DUPLICATE_KEY = 11000
_MAX_KEPT_CHARS = 2000  # of a rejected event's text, kept for the operator


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    timestamp: Timestamp
    data: dict[str, Any] = Field(default_factory=dict)


def _kind_tag(value: Any) -> str | None:
    """The union's tag: from the raw dict when validating, the model when dumping."""
    if isinstance(value, dict):
        return f"{value.get('category')}/{value.get('name')}"
    if isinstance(value, Envelope):
        return f"{value.category}/{value.name}"
    return None


# A valid batch is checked in one pydantic-core call: a union of one envelope per kind,
# chosen by "category/name". Only a batch that fails is checked event by event, to say
# which events failed and why.
_BATCH: TypeAdapter[list[Envelope]] = TypeAdapter(
    list[  # type: ignore[misc]  # mypy can't follow a union built at import time
        Annotated[
            Union[  # noqa: UP007 - a runtime-built union of the registry's kinds
                tuple(
                    Annotated[
                        create_model(
                            f"{category}_{name}_event",
                            __base__=Envelope,
                            category=(Literal[category], ...),  # type: ignore[arg-type]
                            name=(Literal[name], ...),  # type: ignore[arg-type]
                            data=(model, ...),
                        ),
                        Tag(f"{category}/{name}"),
                    ]
                    for (category, name), model in KINDS.items()
                )
            ],
            Discriminator(_kind_tag),
        ]
    ]
)


def _valid_batch(raw_events: list[Any], now: datetime) -> list[dict[str, Any]] | None:
    """The batch as documents' fields, or None when any event is invalid."""
    try:
        events = _BATCH.validate_python(raw_events)
    except ValidationError:
        return None
    if any(in_future(event.timestamp, now) for event in events):
        return None
    fields: list[dict[str, Any]] = _BATCH.dump_python(events)
    return fields


@dataclass(frozen=True)
class Rejection:
    index: int
    category: str  # a known category or "unknown": a bounded label value
    reason: str  # malformed | unknown_kind | future_timestamp | invalid_data
    detail: str
    event: Any


class EventsRejected(InvalidInput):
    """422 with one entry per rejected event; nothing of the batch was stored."""

    def __init__(self, rejections: list[Rejection], total: int) -> None:
        super().__init__(f"{len(rejections)} of {total} events rejected; none stored")
        self.detail = [{"index": r.index, "reason": r.reason, "msg": r.detail} for r in rejections]


def _errors_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in error.errors()
    )


def _check(index: int, raw: Any, now: datetime) -> Envelope | Rejection:
    category = raw.get("category") if isinstance(raw, dict) else None
    label = category if category in CATEGORIES else "unknown"
    try:
        event = Envelope.model_validate(raw)
    except ValidationError as error:
        return Rejection(index, label, "malformed", _errors_text(error), raw)
    model = KINDS.get((event.category, event.name))
    if model is None:
        detail = f"unknown event kind {event.category}/{event.name}"
        return Rejection(index, label, "unknown_kind", detail, raw)
    if in_future(event.timestamp, now):
        return Rejection(index, label, "future_timestamp", FUTURE_MESSAGE, raw)
    try:
        event.data = model.model_validate(event.data).model_dump(mode="json")
    except ValidationError as error:
        return Rejection(index, label, "invalid_data", _errors_text(error), raw)
    return event


def event_id(run_id: str, event: dict[str, Any]) -> str:
    """The same event, sent again, gets the same id. Its data was dumped from the kind's
    model (flat, keys in the model's order), so its repr is canonical."""
    content = repr(
        (run_id, event["category"], event["name"], event["timestamp"].isoformat(), event["data"])
    )
    return hashlib.blake2b(content.encode(), digest_size=16).hexdigest()


async def add_events(run: Run, raw_events: list[Any], username: str) -> int:
    """Store every event or none; returns how many were accepted."""
    now = datetime.now(UTC)
    valid = _valid_batch(raw_events, now)
    if valid is None:
        checked = [_check(i, raw, now) for i, raw in enumerate(raw_events)]
        rejections = [c for c in checked if isinstance(c, Rejection)]
        if rejections:
            await _keep_rejections(run, username, rejections, now)
            raise EventsRejected(rejections, len(raw_events))
        valid = [c.model_dump() for c in checked if isinstance(c, Envelope)]
    run_id = str(run.id)
    docs = [{"_id": event_id(run_id, e), "run_id": run.id, **e} for e in valid]
    try:
        inserted = len(
            (await Event.get_motor_collection().insert_many(docs, ordered=False)).inserted_ids
        )
    except BulkWriteError as error:  # a retried batch: what is stored already stays once
        if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise
        inserted = int(error.details["nInserted"])
    if inserted:
        await Run.get_motor_collection().update_one(
            {"_id": run.id}, {"$inc": {"event_count": inserted}}
        )
        EVENTS_STORED.inc(inserted)
    return len(docs)


async def _keep_rejections(
    run: Run, username: str, rejections: list[Rejection], now: datetime
) -> None:
    for rejection in rejections:
        EVENTS_REJECTED.labels(category=rejection.category, reason=rejection.reason).inc()
    counter = await Counter.get_motor_collection().find_one_and_update(
        {"_id": "rejected_events"},
        {"$inc": {"value": len(rejections)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    first = int(counter["value"]) - len(rejections)
    collection = RejectedEvent.get_motor_collection()
    # A batch holds at most MAX_EVENTS_PER_POST == REJECTED_CAPACITY events: no slot twice.
    for position, rejection in enumerate(rejections, start=first):
        await collection.replace_one(
            {"_id": position % REJECTED_CAPACITY},
            {
                "position": position,
                "received_at": now,
                "run_id": str(run.id),
                "username": username,
                "category": rejection.category,
                "reason": rejection.reason,
                "detail": rejection.detail[:_MAX_KEPT_CHARS],
                "event": _kept(rejection.event),
            },
            upsert=True,
        )


def _kept(event: Any) -> Any:
    """The rejected event as sent, unless it is too big to keep whole."""
    text = json.dumps(event, default=str)
    return event if len(text) <= _MAX_KEPT_CHARS else text[:_MAX_KEPT_CHARS] + "…"


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
        await Event.get_motor_collection()
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
    await Event.get_motor_collection().delete_many({"run_id": run.id})


async def rejected_events(limit: int) -> list[dict[str, Any]]:
    """The last rejected events, newest first."""
    collection = RejectedEvent.get_motor_collection()
    docs: list[dict[str, Any]] = (
        await collection.find({}).sort("position", -1).limit(limit).to_list(None)
    )
    return docs

"""Bodies of events, their refusals and their pages."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
)

from rest_service.domain.schemas.common import Strict
from rest_service.storage.models import Rejection

MAX_EVENTS_PER_POST = 1000


class EventsIn(Strict):
    # Items are checked one by one in events.py, so that each rejected event can be
    # counted and kept with its reason; the envelope only bounds the batch.
    events: Annotated[
        list[Any],
        Field(
            min_length=1,
            max_length=MAX_EVENTS_PER_POST,
            description="Each: {category, name, timestamp (ISO-8601 with a zone), data}; "
            "data is checked against the model registered for (category, name).",
            examples=[
                [
                    {
                        "category": "note",
                        "name": "note",
                        "timestamp": "2026-11-21T10:00:00Z",
                        "data": {"text": "cache warmed"},
                    }
                ]
            ],
        ),
    ]


class FieldError(BaseModel):
    """One error of a body that is no batch at all, as FastAPI reports validation errors."""

    type: str
    loc: list[str | int]
    msg: str


RejectionReason = Literal["malformed", "unknown_kind", "future_timestamp", "invalid_data"]
MAX_KEPT_CHARS = 2000  # of a rejected event's text, kept for the operator


class EventRejection(BaseModel):
    """One refused event of a batch."""

    index: int
    reason: RejectionReason
    msg: str


class EventsRefused(BaseModel):
    detail: list[EventRejection] | list[FieldError]


class EventsAccepted(BaseModel):
    accepted: int


class EventOut(BaseModel):
    id: str
    category: str
    name: str
    timestamp: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class RejectedEventOut(Rejection):
    event: str = Field(
        description=f"The event as sent, as JSON text (cut at {MAX_KEPT_CHARS:,} characters)"
    )


class RejectedEventPage(BaseModel):
    items: list[RejectedEventOut]

"""Request and response bodies of the HTTP API."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from rest_service.models import RunStatus

INT64_MAX = 2**63 - 1
FUTURE_TOLERANCE = timedelta(seconds=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SAMPLES_PER_POST = 10_000
MAX_PAGE = 10_000

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
# Strict: a JSON number only; true or "50" is refused, not read as 1.0 or 50.0.
Percent = Annotated[float, Field(strict=True, ge=0, le=100, allow_inf_nan=False)]


def _bcrypt_sized(password: str) -> str:
    if len(password.encode()) > 72:
        raise ValueError("password must be at most 72 bytes in UTF-8 (a bcrypt limit)")
    return password


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: Annotated[str, Field(max_length=256)]
    password: Annotated[str, Field(max_length=1024)]


class UserOut(BaseModel):
    username: str
    is_admin: bool


class UserIn(Strict):
    username: Username
    password: Annotated[str, Field(min_length=8), AfterValidator(_bcrypt_sized)]
    is_admin: bool = False


class RunIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    host: Annotated[str, Field(max_length=255)] | None = None
    threshold: Percent | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=32)] = Field(
        default_factory=list
    )


class RunPatch(Strict):
    status: Literal["finished", "aborted"]


class Summary(BaseModel):
    sample_count: int
    cpu_avg: float | None
    cpu_max: float | None
    cpu_p95: float | None
    duration_seconds: float
    time_above_threshold_seconds: float | None


class RunOut(BaseModel):
    id: str
    name: str
    host: str | None
    threshold: float | None
    tags: list[str]
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None
    owner: str


class RunDetail(RunOut):
    summary: Summary
    event_count: int


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


def to_millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: truncate first, so what is stored is what was answered."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _iso_string(value: object) -> object:
    if not isinstance(value, str | datetime):
        raise ValueError("timestamp must be an ISO-8601 string with a zone")
    return value


def _utc_millis(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None
    if value < EPOCH:
        raise ValueError("timestamp must be after 1970-01-01")
    return to_millis(value)


FUTURE_MESSAGE = f"timestamp is more than {FUTURE_TOLERANCE.total_seconds():g} s in the future"


def in_future(value: datetime, now: datetime | None = None) -> bool:
    return value > (now or datetime.now(UTC)) + FUTURE_TOLERANCE


def _not_in_future(value: datetime) -> datetime:
    if in_future(value):
        raise ValueError(FUTURE_MESSAGE)
    return value


# ISO-8601 with a zone, after 1970, in UTC to the millisecond (as MongoDB keeps it).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_utc_millis)]

# An event's time: the same rules, checked by pydantic-core alone on the JSON text (no
# Python callback on the ingest hot path). Strict, so a number is refused. MongoDB keeps
# it in UTC to the millisecond.
EventTime = Annotated[AwareDatetime, Field(strict=True, ge=EPOCH)]


class SampleIn(Strict):
    seq: Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
    timestamp: Annotated[Timestamp, AfterValidator(_not_in_future)]
    cpu_percent: Percent
    per_cpu: Annotated[list[Percent], Field(max_length=1024)] | None = None


class SamplesIn(Strict):
    samples: Annotated[list[SampleIn], Field(min_length=1, max_length=MAX_SAMPLES_PER_POST)]


class SamplesAccepted(BaseModel):
    accepted: int
    duplicates: int


class SampleOut(BaseModel):
    seq: int
    timestamp: datetime
    cpu_percent: float
    per_cpu: list[float] | None = None


class SamplePage(BaseModel):
    items: list[SampleOut]
    next_after_seq: int | None


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


class RejectedEventOut(BaseModel):
    received_at: datetime
    run_id: str
    username: str
    category: str
    reason: str
    detail: str
    event: str = Field(description="The event as sent, as JSON text (cut at 2,000 characters)")


class RejectedEventPage(BaseModel):
    items: list[RejectedEventOut]

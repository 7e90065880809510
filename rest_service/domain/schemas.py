"""Request and response bodies of the HTTP API."""

import functools
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

from rest_service.storage.models import Rejection, RunStatus, TokenScope

# The largest integer a JSON number carries exactly in every client (JavaScript's
# Number.MAX_SAFE_INTEGER); below MongoDB's 64-bit limit too. Seqs and counts stop here.
MAX_SAFE_INT = 2**53 - 1
FUTURE_TOLERANCE = timedelta(seconds=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SAMPLES_PER_POST = 10_000
MAX_PAGE = 10_000
# per_cpu values in one POST of samples, and in one page: what bounds a request's memory
# (a per_cpu value is a few bytes of JSON and tens of bytes once parsed). 256 samples of a
# 1,024-CPU machine, or 10,000 of a 26-CPU one.
MAX_PER_CPU_VALUES = 262_144

Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
# Strict: a JSON number only; true or "50" is refused, not read as 1.0 or 50.0.
Percent = Annotated[float, Field(strict=True, ge=0, le=100, allow_inf_nan=False)]


def _bcrypt_sized(password: str) -> str:
    if len(password.encode()) > 72:
        raise ValueError("password must be at most 72 bytes in UTF-8 (a bcrypt limit)")
    return password


class ErrorOut(BaseModel):
    """Every error but 422: ``{"detail": "what went wrong"}``."""

    detail: str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: Annotated[str, Field(max_length=256)]
    password: Annotated[str, Field(max_length=1024)]


class UserOut(BaseModel):
    username: str
    is_admin: bool


def _whole(value: object) -> object:
    """JSON has one number type: 30.0 is the integer 30, as JSON Schema reads it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class TokenIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100, description="what uses it")]
    scope: TokenScope = Field(
        default="read",
        description="read: GET only (Grafana); write: also the owner's runs, samples and "
        "events (cpu-monitor)",
    )
    expires_in_days: Annotated[
        Annotated[int, Field(strict=True, ge=1, le=3650)] | None,
        BeforeValidator(_whole),
        Field(description="None (the default): until revoked"),
    ] = None


class TokenOut(BaseModel):
    id: str = Field(description="the token's public id, for DELETE /auth/tokens/{id}")
    name: str
    created_at: datetime
    expires_at: datetime | None
    scope: TokenScope


class TokenCreated(TokenOut):
    token: str = Field(
        description="send as `Authorization: Bearer <token>`; shown this once, never stored"
    )


class UserIn(Strict):
    username: Username
    password: Annotated[
        str,
        Field(
            min_length=8,
            max_length=72,
            description="8 characters to 72 bytes in UTF-8 (bcrypt reads no further)",
        ),
        AfterValidator(_bcrypt_sized),
    ]
    is_admin: Annotated[bool, Field(strict=True)] = False


class RunIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    host: Annotated[str, Field(max_length=255)] | None = None
    threshold: Percent | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=32)] = Field(
        default_factory=list
    )


class RunPatch(Strict):
    status: Literal["finished", "aborted"]


class FieldSummary(BaseModel):
    """One optional sample field over the samples that carry it."""

    count: int
    avg: float
    p95: float
    max: float


class Summary(BaseModel):
    sample_count: int
    cpu_avg: float | None
    cpu_max: float | None
    cpu_p95: float | None
    duration_seconds: float
    time_above_threshold_seconds: float | None
    fields: dict[str, FieldSummary] = Field(
        default_factory=dict,
        description="The optional sample fields the run's samples carry (memory, disk, "
        "network, process...), each over the samples that have it.",
    )


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


MILLISECOND = timedelta(milliseconds=1)
_NO_OFFSET = timedelta(0)


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, as samples and event ids store a time."""
    return (value - EPOCH) // MILLISECOND


# utc_text builds an ISO time from these pieces: a page or an export formats one per sample.
_CLOCK = [f"{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60)]
_SECONDS = [f"{second:02d}" for second in range(60)]
_FRACTIONS = {
    zone: [zone] + [f".{milli:03d}000{zone}" for milli in range(1, 1000)]
    for zone in ("Z", "+00:00")
}


@functools.lru_cache(maxsize=4096)
def _minute_text(minutes: int) -> str:
    """ "YYYY-MM-DDTHH:MM:" of a minute since the epoch (a run's samples share few)."""
    days, minute = divmod(minutes, 1440)
    return f"{(EPOCH + timedelta(days=days)).date().isoformat()}T{_CLOCK[minute]}"


def utc_text(ms: int, zone: Literal["Z", "+00:00"] = "+00:00") -> str:
    """The ``isoformat()`` of the UTC datetime ``ms`` milliseconds after the epoch, or with
    ``"Z"`` the text pydantic writes for it in JSON (microseconds only when there are any),
    without making the datetime."""
    seconds, milli = divmod(ms, 1000)
    minutes, whole = divmod(seconds, 60)
    return _minute_text(minutes) + _SECONDS[whole] + _FRACTIONS[zone][milli]


def to_millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: truncate first, so what is stored is what was answered."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


NOT_ISO = "timestamp must be an ISO-8601 string with a zone"


def _iso_string(value: object) -> object:
    """Only an ISO-8601 text (YYYY-MM-DD…) or a datetime: pydantic would otherwise read a
    number, or a string of digits such as "1700000000", as Unix seconds."""
    if isinstance(value, datetime) or (isinstance(value, str) and value[4:5] == "-"):
        return value
    raise ValueError(NOT_ISO)


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None


def _utc_bound(value: datetime) -> datetime:
    """A filter's bound in UTC; one beyond what UTC can hold, at that end of time."""
    try:
        return _utc(value)
    except ValueError:
        return (datetime.min if value.year < 2 else datetime.max).replace(tzinfo=UTC)


def _utc_millis(value: datetime) -> datetime:
    if value.utcoffset() == _NO_OFFSET:  # "Z" or "+00:00", the usual: one step, no overflow
        value = value.replace(microsecond=value.microsecond // 1000 * 1000, tzinfo=UTC)
    else:
        value = to_millis(_utc(value))
    if value < EPOCH:
        raise ValueError("timestamp must be after 1970-01-01")
    return value


FUTURE_MESSAGE = f"timestamp is more than {FUTURE_TOLERANCE.total_seconds():g} s in the future"


def in_future(value: datetime, now: datetime | None = None) -> bool:
    return value > (now or datetime.now(UTC)) + FUTURE_TOLERANCE


def _not_in_future(value: datetime) -> datetime:
    if in_future(value):
        raise ValueError(FUTURE_MESSAGE)
    return value


# ISO-8601 with a zone, after 1970, in UTC to the millisecond (as MongoDB keeps it).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_utc_millis)]


def _past_utc_millis(value: datetime) -> datetime:
    return _not_in_future(_utc_millis(value))


# A sample's time: a Timestamp not in the future, checked in one call (one per sample).
SampleTime = Annotated[
    AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_past_utc_millis)
]

# A bound of a time filter in a query: ISO-8601 with a zone, any date (a bound before 1970
# simply matches nothing before it).
QueryTime = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_utc_bound)]

# An event's time: the same rules, checked by pydantic-core on the JSON text but for one
# cheap look at its shape (the ingest hot path). MongoDB keeps it in UTC to the millisecond.
EventTime = Annotated[AwareDatetime, BeforeValidator(_iso_string), Field(ge=EPOCH)]


# The optional figures a sample may carry besides its total CPU, each a JSON number (the
# name says the unit). They are stored, paged, exported as CSV, summarized and exported to
# Prometheus under these names. Percent of one core for a process (it may pass 100).
Rate = Annotated[float, Field(strict=True, ge=0, le=1e15, allow_inf_nan=False)]
Bytes = Annotated[float, Field(strict=True, ge=0, le=MAX_SAFE_INT, allow_inf_nan=False)]
Load = Annotated[float, Field(strict=True, ge=0, le=1e6, allow_inf_nan=False)]
CorePercent = Annotated[float, Field(strict=True, ge=0, le=100 * 4096, allow_inf_nan=False)]


class SampleIn(Strict):
    seq: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INT)]
    timestamp: SampleTime
    cpu_percent: Percent
    per_cpu: Annotated[list[Percent], Field(max_length=1024)] | None = None
    cpu_user_percent: Percent | None = None
    cpu_system_percent: Percent | None = None
    cpu_iowait_percent: Percent | None = None
    cpu_steal_percent: Percent | None = None
    memory_used_percent: Percent | None = None
    memory_available_bytes: Bytes | None = None
    swap_used_percent: Percent | None = None
    load_1m: Load | None = None
    disk_read_bytes_per_second: Rate | None = None
    disk_write_bytes_per_second: Rate | None = None
    network_receive_bytes_per_second: Rate | None = None
    network_transmit_bytes_per_second: Rate | None = None
    process_cpu_percent: Annotated[
        CorePercent | None,
        Field(description="CPU of the watched process tree, in percent of one core"),
    ] = None
    process_rss_bytes: Annotated[
        Bytes | None, Field(description="Resident memory of the watched process tree")
    ] = None

    def figures(self) -> dict[str, float]:
        """The optional figures it carries (read from the fields sent: ingest is a hot path,
        and most samples carry none)."""
        sent = self.__pydantic_fields_set__
        if sent.isdisjoint(FIGURE_NAMES):
            return {}
        return {
            name: value
            for name in sent & FIGURE_NAMES
            if (value := getattr(self, name)) is not None
        }


SAMPLE_FIELDS: tuple[str, ...] = tuple(
    name
    for name in SampleIn.model_fields
    if name not in ("seq", "timestamp", "cpu_percent", "per_cpu")
)
FIGURE_NAMES = frozenset(SAMPLE_FIELDS)


def _per_cpu_budget(samples: Any) -> Any:
    """Counted on the parsed JSON, before any sample is built: a body over the budget is
    refused for the cost of its parsing alone."""
    if not isinstance(samples, list):
        return samples  # the list check that follows says what is wrong
    values = sum(
        len(per_cpu)
        for s in samples
        if isinstance(s, dict) and isinstance(per_cpu := s.get("per_cpu"), list)
    )
    if values > MAX_PER_CPU_VALUES:
        raise ValueError(
            f"a batch carries at most {MAX_PER_CPU_VALUES:,} per_cpu values, not {values:,}: "
            "send fewer samples per POST"
        )
    return samples


class SamplesIn(Strict):
    samples: Annotated[
        list[SampleIn],
        Field(
            min_length=1,
            max_length=MAX_SAMPLES_PER_POST,
            description=f"at most {MAX_SAMPLES_PER_POST:,} samples, together at most "
            f"{MAX_PER_CPU_VALUES:,} per_cpu values",
        ),
        BeforeValidator(_per_cpu_budget),
    ]


class SamplesAccepted(BaseModel):
    accepted: int
    duplicates: int


class SampleOut(SampleIn):
    """A stored sample, as it was sent; each optional figure appears only when it was."""


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

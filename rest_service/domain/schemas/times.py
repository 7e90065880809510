"""Times in the API: ISO-8601 with a zone on the way in, UTC to the millisecond as
MongoDB keeps them, and the ISO text of a stored millisecond on the way out."""

import functools
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
)

FUTURE_TOLERANCE = timedelta(seconds=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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

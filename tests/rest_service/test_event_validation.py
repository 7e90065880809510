"""The one-call batch check and the per-event check must agree on every batch."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rest_service.domain.event_kinds import KINDS
from rest_service.domain.events import Rejection, _check, _valid_batch

NOW = datetime(2026, 6, 1, tzinfo=UTC)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(-5, 200),
    st.just(float("nan")),
    st.text(max_size=5),
    st.sampled_from(["start", "spawned", "stop", "x" * 2001]),
)
datas = st.dictionaries(
    st.sampled_from(
        [
            "cpu_percent",
            "threshold",
            "seconds_above",
            "version",
            "service",
            "text",
            "phase",
            "users",
            "extra",
        ]
    ),
    values,
    max_size=4,
)
stamps = st.one_of(
    st.sampled_from(
        [
            "2026-06-01T00:00:00Z",
            "2026-06-01T00:00:00",
            "2026-06-01",
            "soon",
            "1969-01-01T00:00:00Z",
            "1970-01-01T01:00:00+02:00",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "1700000000",
            1700000000,
            None,
        ]
    ),
    st.integers(-100, 100).map(lambda s: (NOW + timedelta(seconds=s)).isoformat()),
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
)
VALID = {
    ("monitor", "threshold_exceeded"): {"cpu_percent": 90.5, "threshold": 80},
    ("monitor", "threshold_cleared"): {"cpu_percent": 10, "threshold": 80, "seconds_above": 3},
    ("monitor", "memory_threshold_exceeded"): {"memory_used_percent": 91.5, "threshold": 90},
    ("monitor", "memory_threshold_cleared"): {
        "memory_used_percent": 80,
        "threshold": 90,
        "seconds_above": 12.5,
    },
    ("deploy", "deployed"): {"version": "1.2", "service": "api"},
    ("note", "note"): {"text": "hello"},
    ("loadtest", "phase"): {"phase": "stop", "users": 10},
}
assert set(VALID) == set(KINDS)
valid_events = st.builds(
    lambda kind, stamp, extra: {
        "category": kind[0],
        "name": kind[1],
        "timestamp": stamp,
        "data": {**VALID[kind], **extra},
    },
    st.sampled_from(sorted(VALID)),
    stamps,
    st.one_of(st.just({}), datas),
)
kinds = st.one_of(
    st.sampled_from(sorted(KINDS)), st.tuples(st.text(max_size=3), st.text(max_size=3))
)
events = st.one_of(
    valid_events,
    valid_events,
    st.builds(
        lambda kind, stamp, data: {
            "category": kind[0],
            "name": kind[1],
            "timestamp": stamp,
            "data": data,
        },
        kinds,
        stamps,
        datas,
    ),
    st.just("not an event"),
    st.just({"category": "note", "name": "note"}),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(events, min_size=1, max_size=5))
def test_fast_and_slow_paths_agree(batch: list[Any]) -> None:
    fast = _valid_batch(json.dumps({"events": batch}).encode(), NOW)
    checked = [_check(i, raw, NOW) for i, raw in enumerate(batch)]
    rejected = [c for c in checked if isinstance(c, Rejection)]
    if fast is None:
        assert rejected, "the fast path refused a batch the slow path accepts"
    else:
        assert not rejected
        assert fast == checked

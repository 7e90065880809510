"""The emulation's fast paths give exactly mongomock's own answers."""

import asyncio
import contextlib
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import mongomock
import pytest
from bson import Int64, ObjectId
from bson.errors import InvalidDocument
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError

import embedded_mongo as embedded
from embedded_mongo import fast_paths

ids = st.one_of(st.integers(-3, 30), st.sampled_from(["a", "b", "r:1", "r:2", "r:10"]))
docs = st.lists(
    st.fixed_dictionaries({"_id": ids, "run": st.integers(0, 2), "seq": st.integers(0, 5)}),
    max_size=25,
    unique_by=lambda d: d["_id"],
)
id_filters = st.one_of(
    ids,
    st.fixed_dictionaries({"$in": st.lists(ids, max_size=8)}),
    st.fixed_dictionaries({"$gt": st.integers(-3, 30)}),
    st.fixed_dictionaries({"$in": st.lists(ids, max_size=3), "$ne": ids}),
)
filters = st.builds(
    lambda id_filter, extra: {"_id": id_filter, **extra},
    id_filters,
    st.one_of(
        st.just({}),
        st.builds(lambda r: {"run": r}, st.integers(0, 2)),
        st.builds(lambda s: {"seq": {"$gte": s}}, st.integers(0, 5)),
    ),
)


def assert_same_as_mongomock(outcome: Callable[[], object]) -> None:
    """The outcome with the fast paths is the one mongomock gives on its own."""
    embedded.uninstall_fast_paths()
    try:
        expected = outcome()
    finally:
        embedded.install_fast_paths()
    assert outcome() == expected


def _answer(collection: mongomock.Collection, query: dict, skip: int, limit: int) -> list:
    unordered = sorted(collection.find(query), key=repr)
    # A total order: like MongoDB, neither promises an order among ties.
    by_seq = [("seq", -1), ("_id", 1)]
    ordered = list(collection.find(query).sort(by_seq).skip(skip).limit(limit))
    # Among several matches find_one may pick any, as MongoDB may.
    one = collection.find_one(query) if len(unordered) < 2 else None
    return [unordered, ordered, one]


@settings(max_examples=300, deadline=None)
@given(docs, filters, st.integers(0, 5), st.integers(-5, 5))
def test_id_lookups_match_mongomock(
    documents: list[dict], query: dict, skip: int, limit: int
) -> None:
    collection = mongomock.MongoClient().db.things
    if documents:
        collection.insert_many([dict(d) for d in documents])
    assert_same_as_mongomock(lambda: _answer(collection, query, skip, limit))


def test_lookup_by_id_does_not_scan(monkeypatch) -> None:
    embedded.install_fast_paths()
    collection = mongomock.MongoClient().db.things
    collection.insert_many([{"_id": f"r:{i}", "v": i} for i in range(1000)])
    visited = 0
    original = fast_paths.filtering.filter_applies

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal visited
        visited += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(fast_paths.filtering, "filter_applies", counting)
    assert collection.find_one({"_id": "r:500"})["v"] == 500
    assert [
        d["v"] for d in collection.find({"_id": {"$in": ["r:3", "r:1", "nope"]}, "v": {"$gt": 1}})
    ] == [3]
    assert visited <= 3


def test_embedded_client_is_tz_aware() -> None:
    async def roundtrip() -> object:
        from datetime import UTC, datetime

        client = embedded.embedded_client()
        await client.db.c.insert_one({"_id": ObjectId(), "t": datetime(2026, 1, 1, tzinfo=UTC)})
        doc = await client.db.c.find_one({})
        by_id = await client.db.c.find_one({"_id": doc["_id"]})  # the fast lookup
        return doc["t"].tzinfo, by_id["t"].tzinfo

    scanned, looked_up = asyncio.run(roundtrip())
    assert scanned is not None and looked_up is scanned


def test_found_documents_are_made_aware_in_copies_only() -> None:
    embedded.install_fast_paths()
    collection = mongomock.MongoClient(tz_aware=True).db.things
    when = datetime(2026, 1, 1, tzinfo=UTC)
    collection.insert_one({"_id": 1, "t": when, "deep": {"l": [when, (when,)]}})
    for found in (next(iter(collection.find())), collection.find_one({"_id": 1})):
        assert found == {"_id": 1, "t": when, "deep": {"l": [when, [when]]}}
        found["deep"]["l"].append(0)
    stored = collection._store._documents[1]
    assert stored["t"].tzinfo is None and stored["deep"]["l"][0].tzinfo is None
    assert len(stored["deep"]["l"]) == 2


zones = st.sampled_from([None, UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))])
scalars = st.one_of(
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1]),  # the ends of int64
    st.text(max_size=3),
    st.sampled_from(["a\ud800", "é", Int64(7), 1.5, None, True]),
    st.datetimes(timezones=zones),
    st.sampled_from([datetime.min, datetime.max]).flatmap(
        lambda end: st.builds(end.replace, tzinfo=zones)
    ),
)
batches = st.lists(
    st.fixed_dictionaries(
        {"_id": ids, "v": scalars},
        optional={
            "when": st.datetimes(timezones=zones),
            "nested": st.dictionaries(st.sampled_from(["k", "a\0b", "$x"]), scalars),
            "listed": st.lists(st.one_of(st.integers(0, 3), st.datetimes()), max_size=3),
            "$top": st.just(1),
            "a\0b": st.just(1),
        },
    ),
    min_size=1,
    max_size=12,
)


def _insert_outcome(preload: list[dict], batch: list[dict], unique_v: bool) -> tuple:
    collection = mongomock.MongoClient(tz_aware=True).db.things
    if unique_v:
        collection.create_index("v", unique=True)
    for doc in preload:
        with contextlib.suppress(
            DuplicateKeyError, OverflowError, InvalidDocument, UnicodeEncodeError
        ):
            collection.insert_one(dict(doc))
    try:
        result = collection.insert_many([dict(d) for d in batch], ordered=False).inserted_ids
        errors = None
    except BulkWriteError as error:
        result = error.details["nInserted"]
        errors = [(e["index"], e["code"], e["errmsg"]) for e in error.details["writeErrors"]]
    except (OverflowError, InvalidDocument, UnicodeEncodeError) as error:  # refused mid-batch
        result, errors = None, [repr(error)]
    found = [collection.find_one({"_id": doc["_id"]}) for doc in batch]
    return result, errors, sorted(collection.find(), key=repr), found


@settings(max_examples=300, deadline=None)
@given(batches, batches, st.booleans())
@example([], [{"_id": 1, "v": 2**63}], False)  # BSON refuses each of these values
@example([], [{"_id": 1, "nested": {"k": -(2**63) - 1}}], False)
@example([], [{"_id": 1, "v": "a\ud800"}], False)
@example([], [{"_id": 1, "v": datetime.max.replace(tzinfo=timezone(-timedelta(hours=5)))}], False)
@example([], [{"_id": 1, "v": datetime.min.replace(tzinfo=timezone(timedelta(hours=2)))}], False)
def test_bulk_insert_matches_mongomock(
    preload: list[dict], batch: list[dict], unique_v: bool
) -> None:
    assert_same_as_mongomock(lambda: _insert_outcome(preload, batch, unique_v))


fields = st.sampled_from(["v", "v", "n", "nested", "listed", "listed", "new"])
field_values = st.one_of(
    st.integers(0, 3),
    st.floats(-3, 3),
    st.text(max_size=2),
    st.none(),
    st.dictionaries(st.sampled_from(["k", "j"]), st.integers(0, 3), max_size=2),
    st.lists(st.integers(0, 3), max_size=2),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
)
updates = st.dictionaries(
    st.sampled_from(["$set", "$unset", "$inc", "$max", "$min", "$push", "$rename"]),
    st.dictionaries(
        st.one_of(
            fields,
            fields,
            st.sampled_from(["nested.k", "_id", "listed.0", "listed.1", "new.x.3", "v.k", "n.0"]),
        ),
        field_values,
        min_size=1,
        max_size=2,
    ),
    min_size=1,
    max_size=2,
)
stored = st.lists(
    st.fixed_dictionaries(
        {
            "_id": st.sampled_from(["a", "b", "c"]),
            "v": st.integers(0, 3),
            "listed": st.lists(st.integers(0, 3), max_size=2),
        },
        optional={
            "n": field_values,
            "nested": st.dictionaries(st.sampled_from(["k", "j"]), st.integers(0, 3)),
        },
    ),
    min_size=2,
    max_size=3,
    unique_by=lambda d: d["_id"],
)
update_filters = st.one_of(
    st.builds(lambda i: {"_id": i}, st.sampled_from(["a", "b", "d"])),
    st.builds(lambda i, v: {"_id": i, "v": v}, st.sampled_from(["a", "b"]), st.integers(0, 3)),
    st.builds(lambda v: {"v": {"$gte": v}}, st.integers(0, 3)),
    st.builds(lambda i: {"_id": i, "listed.1": None}, st.sampled_from(["a", "b"])),
    st.builds(
        lambda i, v: {"_id": i, "v": {"$lt": v}}, st.sampled_from(["a", "b"]), st.integers(0, 3)
    ),
)


def _update_outcome(preload: list[dict], query: dict, update: dict, unique_v: bool) -> tuple:
    collection = mongomock.MongoClient(tz_aware=True).db.things
    if unique_v:
        collection.create_index("v", unique=True, sparse=True)
    for doc in preload:
        with contextlib.suppress(DuplicateKeyError):
            collection.insert_one(copy.deepcopy(doc))
    try:
        result = collection.update_one(query, copy.deepcopy(update)).raw_result
        result.pop("connectionId")
    except Exception as error:  # the same refusal, whatever it is
        result = repr(error)
    return result, sorted(collection.find(), key=repr)


@settings(max_examples=500, deadline=None)
@given(stored, update_filters, updates, st.booleans())
@example(  # refused by the unique index: rolled back
    [{"_id": "a", "v": 1, "listed": []}, {"_id": "b", "v": 2, "listed": []}],
    {"_id": "a"},
    {"$inc": {"n": 1}, "$set": {"v": 2}},
    True,
)
@example(  # changes a list in place: not for the shallow snapshot
    [{"_id": "a", "v": 1, "listed": [1]}, {"_id": "b", "v": 2, "listed": []}],
    {"_id": "a"},
    {"$push": {"listed": 2}},
    False,
)
def test_update_one_matches_mongomock(
    preload: list[dict], query: dict, update: dict, unique_v: bool
) -> None:
    assert_same_as_mongomock(lambda: _update_outcome(preload, query, update, unique_v))


def test_top_level_updates_skip_the_deep_copy(monkeypatch) -> None:
    embedded.install_fast_paths()
    collection = mongomock.MongoClient().db.things
    collection.insert_one({"_id": "r", "count": 1, "tags": [{"deep": [1, 2]}]})
    copies = 0
    original = copy.deepcopy

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal copies
        copies += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", counting)
    assert collection.update_one({"_id": "r"}, {"$inc": {"count": 2}}).modified_count == 1
    assert copies == 0 and collection.find_one({"_id": "r"})["count"] == 3
    # Dotted paths into list slots and documents, with $inc: in place too.
    changed = collection.update_one(
        {"_id": "r"}, {"$set": {"tags.0.deep": [3], "tags.0.new.k": 1}, "$inc": {"count": 1}}
    )
    assert changed.modified_count == 1 and copies == 0
    assert collection.find_one({"_id": "r"})["tags"] == [{"deep": [3], "new": {"k": 1}}]
    collection.update_one({"_id": "r"}, {"$push": {"tags": 2}})  # anything else: mongomock's way
    assert copies > 0


def test_a_document_over_16_mib_is_refused_as_a_real_server_refuses_it() -> None:
    """mongomock stores any size; MongoDB (and pymongo before it) refuses over 16 MiB."""

    async def scenario() -> None:
        client = embedded.embedded_client()
        collection = client["size"]["docs"]
        big = {"_id": "big", "blob": {"values": [1.5] * 1_600_000}}  # about 19 MB of BSON
        for insert in (
            lambda: collection.insert_one(dict(big)),
            lambda: collection.insert_many([dict(big)], ordered=False),
            lambda: collection.insert_many([dict(big)]),
        ):
            with pytest.raises(DocumentTooLarge):
                await insert()
        assert await collection.count_documents({}) == 0
        await collection.insert_one({"_id": "fits", "blob": {"values": [1.5] * 1_000_000}})
        assert await collection.count_documents({}) == 1

    asyncio.run(scenario())

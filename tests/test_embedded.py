"""The embedded database's _id index gives exactly mongomock's own answers."""

import asyncio

import mongomock
from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

from rest_service import embedded

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


def _answer(collection: mongomock.Collection, query: dict) -> list[dict]:
    return sorted(collection.find(query), key=repr)


@settings(max_examples=300, deadline=None)
@given(docs, filters)
def test_id_lookups_match_mongomock(documents: list[dict], query: dict) -> None:
    collection = mongomock.MongoClient().db.things
    if documents:
        collection.insert_many([dict(d) for d in documents])
    embedded.Collection._iter_documents = embedded._original_iter_documents
    try:
        expected = _answer(collection, query)
    finally:
        embedded.install_id_index()
    assert _answer(collection, query) == expected


def test_lookup_by_id_does_not_scan(monkeypatch) -> None:
    embedded.install_id_index()
    collection = mongomock.MongoClient().db.things
    collection.insert_many([{"_id": f"r:{i}", "v": i} for i in range(1000)])
    visited = 0
    original = embedded.filtering.filter_applies

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal visited
        visited += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(embedded.filtering, "filter_applies", counting)
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
        return doc["t"].tzinfo

    assert asyncio.run(roundtrip()) is not None

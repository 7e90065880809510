"""The embedded MongoDB emulation: mongomock-motor, made usable at load-test volumes.

mongomock answers every query by scanning the whole collection, even a lookup by
``_id``: measured at 0.27 s per ``find_one`` on a 200,000-sample collection. The
service looks most things up by a deterministic ``_id`` (a user by name, a session by
token hash, a sample by run and seq), so this module teaches mongomock the one index
it lacks: a filter that pins ``_id`` to a value or to an ``$in`` list is answered by
dictionary lookups, and the rest of the filter is still applied by mongomock itself.

Inserting costs ~18 µs a document in mongomock, most of it taking and releasing locks
and re-checking indexes per document; that capped batch ingest near 33,000 samples/s.
A cursor re-sliced its whole result list for every document it handed out, so
reading a 10,000-sample page was quadratic; it now indexes into the list instead.

An unordered ``insert_many`` into a collection with no TTL and no unique secondary
index (samples) therefore validates each document as mongomock does but stores the
batch under one lock.

Results are the same as mongomock's own (tests/test_embedded.py compares them); only
the cost changes, and the order among documents that a query leaves unordered, which
MongoDB does not promise either.
"""

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from bson import BSON, ObjectId
from mongomock import filtering, helpers
from mongomock.collection import Collection, Cursor, _validate_data_fields
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import BulkWriteError, WriteError

_ID_TYPES = (str, int, ObjectId)
_original_iter_documents: Callable[[Collection, Any], Iterable[dict[str, Any]]] = (
    Collection._iter_documents
)
_original_insert: Callable[..., Any] = Collection._insert
_original_next: Callable[[Cursor], Any] = Cursor.__next__


def _pinned_ids(query: Any) -> list[Hashable] | None:
    """The ``_id`` values a filter restricts to, or None when it doesn't pin them."""
    if not isinstance(query, Mapping) or "_id" not in query:
        return None
    wanted = query["_id"]
    if isinstance(wanted, _ID_TYPES) and not isinstance(wanted, bool):
        return [wanted]
    if isinstance(wanted, Mapping) and set(wanted) == {"$in"}:
        values = wanted["$in"]
        if isinstance(values, list | tuple) and all(
            isinstance(v, _ID_TYPES) and not isinstance(v, bool) for v in values
        ):
            return list(dict.fromkeys(values))
    return None


def _iter_documents(self: Collection, query: Any) -> Iterable[dict[str, Any]]:
    ids = _pinned_ids(query)
    if ids is None:
        return _original_iter_documents(self, query)
    rest = {key: value for key, value in query.items() if key != "_id"}
    store = self._store
    found = []
    for doc_id in ids:
        try:
            found.append(store[doc_id])
        except KeyError:
            continue
    return _matching(found, rest)


def _matching(docs: list[dict[str, Any]], rest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if not rest or filtering.filter_applies(rest, doc):
            yield doc


def _plain_bulk(collection: Collection) -> bool:
    """No TTL and no unique index but _id: nothing to re-check document by document."""
    store = collection._store
    return not store._ttl_indexes and not any(
        index.get("unique") for index in store.indexes.values()
    )


_SCALARS = (str, int, float, bool, type(None), ObjectId)
# Types that are surely not mappings: tested by identity, before the slower ABC check.
_NOT_MAPPINGS = frozenset({*_SCALARS, datetime, list, tuple})
_valid_shapes: set[tuple[Any, ...]] = set()


def _plain(value: Any) -> bool:
    """Surely not a mapping, or a dict that holds none."""
    if type(value) in _NOT_MAPPINGS:
        return True
    return type(value) is dict and all(type(v) in _NOT_MAPPINGS for v in value.values())


def _shape(item: dict[str, Any]) -> tuple[Any, ...] | None:
    """The keys mongomock's checks look at (top-level keys, and the keys of nested
    mappings), when the document is at most one dict deep; None otherwise."""
    if not all(_plain(value) for value in item.values()):
        return None
    return tuple(
        (key, tuple(value) if type(value) is dict else None) for key, value in item.items()
    )


def _check(item: dict[str, Any]) -> None:
    """mongomock's per-document checks, in its order. They depend only on the keys, so
    a document of an already checked shape skips them."""
    shape = _shape(item)
    if shape is None or shape not in _valid_shapes:
        if not all(isinstance(key, str) for key in item):
            raise ValueError("Document keys must be strings")
        _validate_data_fields(item)
        if shape is not None and len(_valid_shapes) < 4096:
            _valid_shapes.add(shape)
    BSON.encode(item)


def _stored_form(item: dict[str, Any]) -> Any:
    """What mongomock stores (naive UTC datetimes, at ms), without its per-value
    recursion for the scalars that it leaves as they are."""
    if type(item) is not dict:
        return helpers.patch_datetime_awareness_in_document(item)
    return {key: _stored_value(value) for key, value in item.items()}


def _stored_value(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if type(value) is dict and all(type(v) in _SCALARS for v in value.values()):
        return dict(value)  # the helper's copy, minus the recursion
    return helpers.patch_datetime_awareness_in_document(value)


def _insert(self: Collection, data: Any, session: Any = None, ordered: bool = True) -> Any:
    if isinstance(data, Mapping) or session or ordered or not _plain_bulk(self):
        return _original_insert(self, data, session, ordered=ordered)
    store = self._store
    documents = store._documents
    inserted: list[Any] = []
    write_errors: list[dict[str, Any]] = []
    with store._rwlock.writer():
        for index, item in enumerate(data):
            _check(item)
            if "_id" not in item:
                item["_id"] = ObjectId()
            key = item["_id"]
            if isinstance(key, dict):
                key = helpers.hashdict(key)
            if key in documents:
                error = WriteError("E11000 Duplicate Key Error", 11000)
                write_errors.append(
                    {"index": index, "code": 11000, "errmsg": str(error), "op": item}
                )
                continue
            documents[key] = _stored_form(item)
            inserted.append(item["_id"])
    if write_errors:
        raise BulkWriteError({"writeErrors": write_errors, "nInserted": len(inserted)})
    return inserted


def _next(self: Cursor) -> Any:
    """Cursor.__next__ as mongomock means it, without copying the results each time."""
    if self._limit and self._emitted >= abs(self._limit):
        raise StopIteration
    results = self._compute_results(with_limit_and_skip=False)
    try:
        doc = results[self._skip + self._emitted]
    except IndexError as err:
        raise StopIteration from err
    self._emitted += 1
    return doc


def install_fast_paths() -> None:
    """Teach mongomock the fast paths; idempotent."""
    Collection._iter_documents = _iter_documents  # type: ignore[method-assign]
    Collection._insert = _insert  # type: ignore[method-assign]
    Cursor.__next__ = Cursor.next = _next  # type: ignore[method-assign]


def uninstall_fast_paths() -> None:
    """Back to mongomock's own behaviour (for tests that compare the two)."""
    Collection._iter_documents = _original_iter_documents  # type: ignore[method-assign]
    Collection._insert = _original_insert  # type: ignore[method-assign]
    Cursor.__next__ = Cursor.next = _original_next  # type: ignore[method-assign]


def embedded_client() -> Any:
    install_fast_paths()
    return AsyncMongoMockClient(tz_aware=True)

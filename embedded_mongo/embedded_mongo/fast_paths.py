"""mongomock's hot paths replaced by faster ones that give the same answers.

These patch mongomock's private methods, so mongomock and mongomock-motor are pinned to
exact versions in this package's pyproject.toml, and tests/test_fast_paths.py beside the
package compares every patched path with mongomock's own answers. What each patch does:

- ``_iter_documents``: mongomock scans the whole collection for every query, even a
  lookup by ``_id``. A filter that pins ``_id`` to a value or an ``$in`` list is answered
  by dictionary lookups; the rest of the filter is still applied by mongomock itself.
- ``_insert``: an unordered ``insert_many`` into a collection with no TTL and no unique
  secondary index validates each document as mongomock does but stores the batch under
  one lock, and skips the trial BSON encoding of flat documents (see stored.py).
- ``_update``: an update of top-level fields compares and rolls back against a shallow
  copy instead of a deep copy of the whole document; dotted ``$set`` paths, with ``$inc``
  and ``$max`` of numbers through documents, are applied in place by path_update.py.
- ``find_one``: a lookup that pins ``_id``, with no projection or other option, copies the
  one document found (its datetimes made aware as a cursor's are) without building a
  cursor and its result list.
- ``Cursor._compute_results``: a tz-aware client's results without a projection are fresh
  copies (``_copy_field`` copies every list and document), so their datetimes are made
  aware in place, where mongomock builds every document and list once more to do it.
- ``Cursor.__next__``: indexes into the result list instead of re-slicing it for every
  document (which made reading a long page quadratic).
- ``_copy_field``: copies a found document without dispatching on each immutable scalar.
- ``BSON``: mongomock encodes every document it inserts or replaces, as a check; the class
  it does so with also refuses a document over 16 MiB, as pymongo does before a real
  server sees it (the fast insert path checks the size of what it encodes itself).

Only the cost changes, and the order among documents that a query leaves unordered,
which MongoDB does not promise either.
"""

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from bson import BSON, ObjectId
from bson.tz_util import utc as UTC_ZONE  # the zone mongomock gives found datetimes
from mongomock import collection as mongomock_collection
from mongomock import filtering, helpers
from mongomock.collection import Collection, Cursor, validate_is_mapping
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from embedded_mongo import path_update
from embedded_mongo.stored import (
    NOT_PLAIN,
    SCALAR_TYPES,
    check_document,
    check_size,
    stored_document,
    stored_flat_document,
    stored_plain_value,
)

_ID_TYPES = (str, int, ObjectId)
_original_iter_documents: Callable[[Collection, Any], Iterable[dict[str, Any]]] = (
    Collection._iter_documents
)
_original_insert: Callable[..., Any] = Collection._insert
_original_update: Callable[..., Any] = Collection._update
_original_next: Callable[[Cursor], Any] = Cursor.__next__
_original_find_one: Callable[..., Any] = Collection.find_one
_original_compute_results: Callable[..., Any] = Cursor._compute_results


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
    store._remove_expired_documents()
    # One dict lookup each is atomic under the GIL: no need for the store's reader lock,
    # which mongomock takes to iterate the whole collection safely.
    documents = store._documents
    found = [documents[doc_id] for doc_id in ids if doc_id in documents]
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


class _SizedBSON(BSON):
    """BSON whose encode also holds a real server's size limit: mongomock encodes every
    document it inserts or replaces as a check, and with this in its place that one
    encoding refuses a document over 16 MiB too (after its own checks, in its order)."""

    @classmethod
    def encode(cls, document: Any, *args: Any, **kwargs: Any) -> BSON:
        encoded = BSON.encode(document, *args, **kwargs)
        check_size(encoded)
        return encoded


def _insert(self: Collection, data: Any, session: Any = None, ordered: bool = True) -> Any:
    if isinstance(data, Mapping) or session or ordered or not _plain_bulk(self):
        return _original_insert(self, data, session, ordered=ordered)
    store = self._store
    documents = store._documents
    inserted: list[Any] = []
    write_errors: list[dict[str, Any]] = []
    with store._rwlock.writer():
        for index, item in enumerate(data):
            stored = stored_flat_document(item)
            if stored is None:
                check_document(item)
            if "_id" not in item:
                item["_id"] = ObjectId()
                if stored is not None:
                    stored["_id"] = item["_id"]
            key = item["_id"]
            if isinstance(key, dict):
                key = helpers.hashdict(key)
            if key in documents:
                error = WriteError("E11000 Duplicate Key Error", 11000)
                write_errors.append(
                    {"index": index, "code": 11000, "errmsg": str(error), "op": item}
                )
                continue
            documents[key] = stored_document(item) if stored is None else stored
            inserted.append(item["_id"])
    if write_errors:
        raise BulkWriteError({"writeErrors": write_errors, "nInserted": len(inserted)})
    return inserted


# Update operators that, on a top-level field, replace or remove its value: they never
# change a nested value in place.
_TOP_LEVEL_UPDATERS = frozenset({"$set", "$unset", "$inc", "$max", "$min"})


def _top_level_update(document: Any) -> bool:
    return (
        type(document) is dict
        and bool(document)
        and document.keys() <= _TOP_LEVEL_UPDATERS
        and all(
            type(fields) is dict
            and fields
            and all(type(f) is str and "." not in f and f != "_id" for f in fields)
            for fields in document.values()
        )
    )


_MISSING = object()


def _documents_for(collection: Collection, spec: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The documents a filter selects; mongomock-motor's wrapper, which turns string-like
    keys (Beanie's fields) into plain strings, is skipped when every key already is one."""
    if all(type(key) is str for key in spec):
        return _iter_documents(collection, stored_document(spec))
    return collection._iter_documents(stored_document(spec))  # type: ignore[no-any-return]


def _path_update(self: Collection, spec: Any, document: Any) -> Any:
    """A planned update of dotted paths (path_update.py) applied in place to the one
    document the filter selects; _MISSING when mongomock's own path must take it."""
    planned = path_update.plan(document)
    if planned is None or type(spec) is not dict or not _plain_bulk(self):
        return _MISSING
    update, sets, incs, maxes = planned
    if any(type(v) not in (int, float) for v in (*incs.values(), *maxes.values())):
        return _MISSING
    values = {field: stored_plain_value(value) for field, value in sets.items()}
    if any(value is NOT_PLAIN for value in values.values()):
        return _MISSING
    for existing in _documents_for(self, spec):
        changed = path_update.apply(existing, update, values, incs, maxes)
        if changed is None:
            return _MISSING
        return _result(matched=1, modified=int(changed), collection=self)
    return _result(matched=0, modified=0, collection=self)


def _result(matched: int, modified: int, collection: Collection) -> dict[str, Any]:
    return {
        "connectionId": collection.database.client._id,
        "err": None,
        "n": matched,
        "nModified": modified,
        "ok": 1,
        "upserted": None,
        "updatedExisting": bool(matched),
    }


def _update(
    self: Collection,
    spec: Any,
    document: Any,
    upsert: bool = False,
    manipulate: bool = False,
    multi: bool = False,
    check_keys: bool = False,
    **options: Any,
) -> Any:
    """One document's top-level fields updated, as mongomock does it, but compared and
    rolled back against a shallow copy: mongomock deep-copies the whole document first.
    Dotted ``$set`` paths with top-level ``$inc`` are applied in place (``_path_update``)."""
    if upsert or multi or any(options.values()):
        return _original_update(
            self, spec, document, upsert, manipulate, multi, check_keys, **options
        )
    if not _top_level_update(document):
        validate_is_mapping("spec", spec)
        result = _path_update(self, spec, document)
        if result is _MISSING:
            return _original_update(
                self, spec, document, upsert, manipulate, multi, check_keys, **options
            )
        return result
    spec = stored_document(spec)
    document = stored_document(document)
    validate_is_mapping("spec", spec)
    matched = modified = 0
    for existing in self._iter_documents(spec):
        matched = 1
        snapshot = dict(existing)
        self._apply_update_document(existing, spec, document, False)
        if existing != snapshot:
            try:
                self._ensure_uniques(existing)
            except DuplicateKeyError:
                self._store[snapshot["_id"]] = snapshot
                raise
            modified = 1
        break
    return _result(matched, modified, self)


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


_original_copy_field: Callable[[Any, Any], Any] = mongomock_collection._copy_field
_SHARED = frozenset({int, float, str, bool, type(None)})  # copy.copy returns them as they are


def _copy_field(obj: Any, container: Any) -> Any:
    """mongomock's copy of a found document, without its per-item dispatch for the
    immutable scalars that copy.copy hands back unchanged (a block's long arrays)."""
    kind = type(obj)
    if kind is list:
        if _SHARED.issuperset(map(type, obj)):  # a column of scalars: copied at C speed
            return list(obj)
        return [item if type(item) in _SHARED else _copy_field(item, container) for item in obj]
    if kind is dict and container is dict:
        return {
            key: value if type(value) in _SHARED else _copy_field(value, container)
            for key, value in obj.items()
        }
    return _original_copy_field(obj, container)


def _make_aware(container: Any) -> None:
    """Give every datetime in a freshly copied document or list UTC as its zone, in place,
    as mongomock's helper would in a copy (which also turns tuples into lists)."""
    if type(container) is dict:
        items: Iterable[tuple[Any, Any]] = container.items()
    elif SCALAR_TYPES.issuperset(map(type, container)):
        return  # a column of scalars holds no datetime
    else:
        items = enumerate(container)
    for key, value in items:
        kind = type(value)
        if kind is datetime:
            container[key] = value.replace(tzinfo=UTC_ZONE)
        elif kind is dict or kind is list:
            _make_aware(value)
        elif kind not in SCALAR_TYPES:
            container[key] = helpers.make_datetime_timezone_aware_in_document(value)


def _compute_results(self: Cursor, with_limit_and_skip: bool = False) -> Any:
    fresh = not self._results or self._factory_last_generated_results != self._factory
    if fresh and self._projection is None and self.collection.codec_options.tz_aware:
        results = list(self._factory())
        for document in results:
            _make_aware(document)
        self._factory_last_generated_results = self._factory
        self._results = results
    return _original_compute_results(self, with_limit_and_skip)


def _find_one(self: Collection, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
    ids = _pinned_ids(filter) if not args and not kwargs and type(filter) is dict else None
    if ids is None or len(ids) != 1:
        return _original_find_one(self, filter, *args, **kwargs)
    for document in _documents_for(self, filter):
        found = _copy_field(document, dict)
        if self.codec_options.tz_aware:
            _make_aware(found)
        return found
    return None


def install_fast_paths() -> None:
    """Teach mongomock the fast paths; idempotent."""
    Collection._iter_documents = _iter_documents  # type: ignore[method-assign]
    Collection._insert = _insert  # type: ignore[method-assign]
    Collection._update = _update  # type: ignore[method-assign, assignment]
    Cursor.__next__ = Cursor.next = _next  # type: ignore[method-assign]
    Collection.find_one = _find_one  # type: ignore[method-assign]
    Cursor._compute_results = _compute_results  # type: ignore[method-assign]
    mongomock_collection._copy_field = _copy_field
    mongomock_collection.BSON = _SizedBSON  # type: ignore[attr-defined]


def uninstall_fast_paths() -> None:
    """Back to mongomock's own behaviour (for tests that compare the two)."""
    Collection._iter_documents = _original_iter_documents  # type: ignore[method-assign]
    Collection._insert = _original_insert  # type: ignore[method-assign]
    Collection._update = _original_update  # type: ignore[method-assign]
    Cursor.__next__ = Cursor.next = _original_next  # type: ignore[method-assign]
    Collection.find_one = _original_find_one  # type: ignore[method-assign]
    Cursor._compute_results = _original_compute_results  # type: ignore[method-assign]
    mongomock_collection._copy_field = _original_copy_field
    mongomock_collection.BSON = BSON  # type: ignore[attr-defined]

"""What mongomock stores for a document, computed without its per-value dispatch.

mongomock checks each document's keys, BSON-encodes it once only to see that it can, and
stores a copy with naive UTC datetimes cut to the millisecond. These functions give the
same stored form by cheaper paths:

- ``stored_scalar``: one scalar that BSON surely encodes, as stored (or ``NOT_PLAIN``);
- ``stored_plain_value``: the same for a scalar, a list of scalars or a document of
  scalars;
- ``stored_flat_document``: a whole document at most one dict deep whose values are all
  such scalars, its keys checked as mongomock checks them (or None for any other);
- ``stored_document``: any document, by mongomock's own helper where the cheap paths end;
- ``check_document``: mongomock's checks of a document that is not flat, and the 16 MiB
  limit of a real server.
"""

from datetime import datetime, timedelta, timezone
from typing import Any

from bson import BSON, ObjectId
from mongomock import helpers
from mongomock.collection import _validate_data_fields
from pydantic_core import TzInfo
from pymongo.errors import DocumentTooLarge

SCALARS = (str, int, float, bool, type(None), ObjectId)
SCALAR_TYPES = frozenset(SCALARS)  # stored and returned as they are
# Types that are surely not mappings: tested by identity, before the slower ABC check.
_NOT_MAPPINGS = frozenset({*SCALARS, datetime, list, tuple})
_valid_shapes: set[tuple[Any, ...]] = set()


def _shape(item: dict[str, Any]) -> tuple[Any, ...] | None:
    """The keys mongomock's checks look at (top-level keys, and the keys of nested
    mappings), when the document is at most one dict deep; None otherwise."""
    shape: list[Any] = []
    for key, value in item.items():
        kind = type(value)
        if kind in _NOT_MAPPINGS:
            shape.append(key)
        elif kind is dict and all(type(v) in _NOT_MAPPINGS for v in value.values()):
            shape.append((key, tuple(value)))
        else:
            return None
    return tuple(shape)


def _check_keys(item: dict[str, Any], shape: tuple[Any, ...] | None) -> None:
    """mongomock's checks of the keys, in its order. They depend only on the keys, so a
    document of an already checked shape skips them."""
    if shape is None or shape not in _valid_shapes:
        if not all(isinstance(key, str) for key in item):
            raise ValueError("Document keys must be strings")
        _validate_data_fields(item)
        if shape is not None and len(_valid_shapes) < 4096:
            _valid_shapes.add(shape)


# MongoDB's limit on a document; pymongo refuses a larger insert before sending it.
MAX_BSON_SIZE = 16 * 1024 * 1024


def check_document(item: dict[str, Any]) -> None:
    """mongomock's per-document checks, in its order: the keys, then BSON encoding; and the
    size limit a real server holds it to, which mongomock does not check."""
    _check_keys(item, _shape(item))
    check_size(BSON.encode(item))


def check_size(encoded: bytes) -> None:
    if len(encoded) > MAX_BSON_SIZE:
        raise DocumentTooLarge(
            f"BSON document too large ({len(encoded)} bytes) - the connected server supports "
            f"BSON document sizes up to {MAX_BSON_SIZE} bytes."
        )


_ALWAYS_ENCODED = frozenset({float, bool, type(None), ObjectId})
_INT64 = range(-(2**63), 2**63)
_ZONES = (timezone, type(TzInfo(0)))  # whose utcoffset() surely answers a timedelta
NOT_PLAIN = object()
_NO_OFFSET = timedelta(0)


def stored_scalar(value: Any) -> Any:
    """What mongomock stores for a scalar that BSON surely encodes, or NOT_PLAIN."""
    kind = type(value)
    if kind in _ALWAYS_ENCODED:
        return value
    if kind is str:  # lone surrogates are the only str that UTF-8, hence BSON, refuses
        return value if value.isascii() or _utf8(value) else NOT_PLAIN
    if kind is int:
        return value if value in _INT64 else NOT_PLAIN
    if kind is datetime:  # far from the ends of the calendar, no offset can overflow it
        zone = value.tzinfo
        if 1 < value.year < 9999 and (zone is None or type(zone) in _ZONES):
            return stored_datetime(value)
    return NOT_PLAIN


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def stored_flat_document(item: Any) -> dict[str, Any] | None:
    """What mongomock stores for a document at most one dict deep whose every value BSON
    surely encodes, after mongomock's checks of its keys: the BSON encoding mongomock
    would try as a check can't fail, so it is skipped. None for any other document."""
    if type(item) is not dict:
        return None
    stored = dict(item)
    shape: list[Any] = []
    for key, value in item.items():
        if type(value) is dict:
            nested = {}
            for inner, inner_value in value.items():
                nested[inner] = stored_scalar(inner_value)
                if nested[inner] is NOT_PLAIN:
                    return None
            stored[key] = nested
            shape.append((key, tuple(value)))
        else:
            stored[key] = stored_scalar(value)
            if stored[key] is NOT_PLAIN:
                return None
            shape.append(key)
    _check_keys(item, tuple(shape))
    return stored


def stored_document(item: dict[str, Any]) -> Any:
    """What mongomock stores (naive UTC datetimes, at ms), without its per-value
    recursion for the scalars that it leaves as they are."""
    if type(item) is not dict:
        return helpers.patch_datetime_awareness_in_document(item)
    stored = dict(item)  # scalars are kept as they are: only the others are replaced
    for key, value in item.items():
        if type(value) not in SCALARS:
            stored[key] = _stored_field(value)
    return stored


def _stored_field(value: Any) -> Any:
    kind = type(value)
    if kind in SCALARS:
        return value
    if kind is datetime:
        return stored_datetime(value)
    # The helper's copy of a document or list of scalars, minus the recursion.
    if kind is dict and SCALAR_TYPES.issuperset(map(type, value.values())):
        return dict(value)
    if kind is list and SCALAR_TYPES.issuperset(map(type, value)):
        return list(value)
    return helpers.patch_datetime_awareness_in_document(value)


def stored_datetime(value: datetime) -> datetime:
    """The helper's conversion of one datetime (naive UTC, to the ms), minus its dispatch."""
    microsecond = value.microsecond // 1000 * 1000
    if value.tzinfo:
        offset = value.utcoffset()
        if offset != _NO_OFFSET:  # an offset of None fails here as it does in the helper
            value = value - offset  # type: ignore[operator]
        return value.replace(tzinfo=None, microsecond=microsecond)
    return value.replace(microsecond=microsecond)


def stored_plain_value(value: Any) -> Any:
    """A scalar, a list of scalars, or a document of scalars with string keys, as mongomock
    stores it; NOT_PLAIN otherwise."""
    kind = type(value)
    if kind is list:
        items = [stored_scalar(item) for item in value]
        return NOT_PLAIN if any(item is NOT_PLAIN for item in items) else items
    if kind is dict:
        if not all(type(key) is str and key and "." not in key and key[0] != "$" for key in value):
            return NOT_PLAIN
        fields = {key: stored_scalar(item) for key, item in value.items()}
        return NOT_PLAIN if any(item is NOT_PLAIN for item in fields.values()) else fields
    return stored_scalar(value)

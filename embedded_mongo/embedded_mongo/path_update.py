"""``$set`` of dotted paths, and ``$inc`` and ``$max`` of numbers, applied in place.

mongomock applies such an update to a deep copy of the whole document, to roll back on
failure. Here the update is planned first (the paths checked and split once per shape of
update, then every target checked in the document), so nothing is half applied and no
copy is needed. Anything this module does not know to do exactly as MongoDB does it is
left to mongomock (``plan`` or ``apply`` answers None).
"""

from collections.abc import Hashable
from typing import Any, NamedTuple

UPDATERS = frozenset({"$set", "$inc", "$max"})
_ABSENT = object()  # a path that ends before its last part
_BLOCKED = object()  # a path that meets something other than a document
_NONE: dict[str, Any] = {}
_NUMBERS = (int, float)
PLAN_CACHE_SIZE = 8192


class Plan(NamedTuple):
    """The paths of an update, each as (path, its parts), by operator."""

    sets: tuple[tuple[str, list[str]], ...]
    incs: tuple[tuple[str, list[str]], ...]
    maxes: tuple[tuple[str, list[str]], ...]


def _checked(sets: dict[Any, Any], numeric: dict[Any, Any]) -> bool:
    """Whether every path is one this module applies: strings, not ``_id``, no operator,
    no two overlapping (MongoDB refuses those), and numbers only through documents."""
    paths = {*sets, *numeric}
    if len(paths) != len(sets) + len(numeric):
        return False  # one path under two operators
    for path in paths:
        if type(path) is not str or "$" in path or path.split(".", 1)[0] in ("_id", ""):
            return False
        dot = path.find(".")
        while dot != -1:
            if path[:dot] in paths:
                return False
            dot = path.find(".", dot + 1)
    for path in numeric:
        if any(part == "" or part.isdigit() for part in path.split(".")):
            return False  # list slots and empty parts: mongomock's own path
    return True


_plans: dict[Hashable, Plan | None] = {}


def plan(document: Any) -> tuple[Plan, dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """The plan of an update document and its ``$set``, ``$inc`` and ``$max`` parts, or
    None when mongomock must apply it."""
    if type(document) is not dict or not document or not document.keys() <= UPDATERS:
        return None
    sets, incs, maxes = (document.get(op, _NONE) for op in ("$set", "$inc", "$max"))
    if type(sets) is not dict or type(incs) is not dict or type(maxes) is not dict:
        return None
    key = (tuple(sets), tuple(incs), tuple(maxes))
    found = _plans.get(key, _ABSENT)
    if found is _ABSENT:
        numeric = {**incs, **maxes}
        found = None
        if (sets or numeric) and len(numeric) == len(incs) + len(maxes):
            if _checked(sets, numeric):
                found = Plan(
                    *(tuple((p, p.split(".")) for p in paths) for paths in (sets, incs, maxes))
                )
        if len(_plans) >= PLAN_CACHE_SIZE:
            _plans.clear()
        _plans[key] = found
    if found is None:
        return None
    assert isinstance(found, Plan)
    return found, sets, incs, maxes


def _can_set(document: Any, parts: list[str]) -> bool:
    """Whether ``$set`` of the path can write in ``document`` as this module does: through
    documents (creating those it lacks) and existing list slots; not when MongoDB would do
    more (pad a list, refuse a scalar parent)."""
    target = document
    last = len(parts) - 1
    for position, part in enumerate(parts):
        kind = type(target)
        if kind is list:
            if not part.isdigit() or int(part) >= len(target):
                return False
            if position == last:
                return True
            target = target[int(part)]
        elif kind is dict:
            if position == last or part not in target:
                return True
            target = target[part]
        else:
            return False
    return False


def _set(document: Any, parts: list[str], value: Any) -> bool:
    """Set the path (checked by ``_can_set``), creating the documents it lacks; whether
    anything changed."""
    target = document
    for part in parts[:-1]:
        target = target[int(part)] if type(target) is list else target.setdefault(part, {})
    key: Any = int(parts[-1]) if type(target) is list else parts[-1]
    if type(target) is dict and key not in target:
        target[key] = value
        return True
    changed = bool(target[key] != value)
    target[key] = value
    return changed


def _number_at(document: Any, parts: list[str]) -> Any:
    """The value at a path through documents only: _ABSENT when the path ends early,
    _BLOCKED when it meets anything but a document on the way."""
    target = document
    for part in parts:
        if type(target) is not dict:
            return _BLOCKED
        if part not in target:
            return _ABSENT
        target = target[part]
    return target


def apply(
    existing: dict[str, Any],
    update: Plan,
    values: dict[str, Any],
    incs: dict[str, Any],
    maxes: dict[str, Any],
) -> bool | None:
    """Apply a planned update (``values``: the stored form of ``$set``'s values) to the
    stored document; whether it changed, or None (and nothing changed) when mongomock
    must apply it."""
    if not all(_can_set(existing, parts) for _, parts in update.sets):
        return None
    current = [_number_at(existing, parts) for _, parts in update.incs + update.maxes]
    if any(v is _BLOCKED or (v is not _ABSENT and type(v) not in _NUMBERS) for v in current):
        return None
    changed = False
    for path, parts in update.sets:
        changed = _set(existing, parts, values[path]) or changed
    now_values = iter(current)
    for path, parts in update.incs:
        now, step = next(now_values), incs[path]
        _set(existing, parts, step if now is _ABSENT else now + step)
        changed = changed or now is _ABSENT or step != 0
    for path, parts in update.maxes:
        now, value = next(now_values), maxes[path]
        if now is _ABSENT or value > now:
            changed = _set(existing, parts, value) or changed
    return changed

"""A TTL cache that counts its hits, misses and evictions in Prometheus."""

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache

from rest_service.telemetry.metrics import CACHE_EVICTIONS, CACHE_HITS, CACHE_ITEMS, CACHE_MISSES

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class MonitoredTTLCache(TTLCache[K, V]):
    """``cachetools.TTLCache`` with metrics labelled by the cache's name.

    - Lookups through :meth:`get` count as hits or misses.
    - Expired items and items pushed out by a full cache count as evictions; an explicit
      delete (``del``, ``pop``, ``clear``) counts as neither.
    - ``loadwatch_cache_items`` follows the number of items held.
    """

    def __init__(
        self, name: str, maxsize: int, ttl: float, timer: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(maxsize=maxsize, ttl=ttl, timer=timer)
        self.name = name
        self._hits = CACHE_HITS.labels(cache=name)
        self._misses = CACHE_MISSES.labels(cache=name)
        self._evictions = CACHE_EVICTIONS.labels(cache=name)
        self._items = CACHE_ITEMS.labels(cache=name)
        self._items.set(0)

    def get(self, key: K, default: Any = None) -> Any:
        if key in self:  # False for an expired item too
            self._hits.inc()
            return self[key]
        self._misses.inc()
        return default

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self._items.set(len(self))

    def __delitem__(self, key: K) -> None:
        try:
            super().__delitem__(key)
        finally:
            self._items.set(len(self))

    def expire(self, time: float | None = None) -> list[tuple[K, V]]:
        expired = list(super().expire(time))
        if expired:
            self._evictions.inc(len(expired))
            self._items.set(len(self))
        return expired

    def popitem(self) -> tuple[K, V]:
        # cachetools calls popitem to make room when the cache is full.
        item = super().popitem()
        self._evictions.inc()
        return item

    def clear(self) -> None:
        super().clear()
        self._items.set(0)

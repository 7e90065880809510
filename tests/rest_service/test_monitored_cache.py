"""MonitoredTTLCache: what it counts, with a fake clock."""

import pytest
from prometheus_client import REGISTRY

from rest_service.telemetry.cache import MonitoredTTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def value(metric: str, cache: str) -> float:
    return REGISTRY.get_sample_value(metric, {"cache": cache}) or 0.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_hits_and_misses(clock: Clock) -> None:
    cache = MonitoredTTLCache[str, int]("t_hits", maxsize=10, ttl=5, timer=clock)
    assert cache.get("a") is None
    cache["a"] = 1
    assert cache.get("a") == 1
    assert cache.get("a") == 1
    assert cache.get("b", 7) == 7
    assert value("loadwatch_cache_hits_total", "t_hits") == 2
    assert value("loadwatch_cache_misses_total", "t_hits") == 2
    assert value("loadwatch_cache_items", "t_hits") == 1


def test_expiry_is_a_miss_then_an_eviction(clock: Clock) -> None:
    cache = MonitoredTTLCache[str, int]("t_expiry", maxsize=10, ttl=5, timer=clock)
    cache["a"] = 1
    cache["b"] = 2
    clock.now += 6
    assert cache.get("a") is None
    assert value("loadwatch_cache_misses_total", "t_expiry") == 1
    assert value("loadwatch_cache_evictions_total", "t_expiry") == 0  # not yet purged
    cache["c"] = 3  # a write purges what has expired
    assert value("loadwatch_cache_evictions_total", "t_expiry") == 2
    assert value("loadwatch_cache_items", "t_expiry") == 1


def test_overflow_evicts_the_oldest(clock: Clock) -> None:
    cache = MonitoredTTLCache[str, int]("t_full", maxsize=2, ttl=60, timer=clock)
    cache["a"], cache["b"], cache["c"] = 1, 2, 3
    assert "a" not in cache and "c" in cache
    assert value("loadwatch_cache_evictions_total", "t_full") == 1
    assert value("loadwatch_cache_items", "t_full") == 2


def test_explicit_deletes_are_not_evictions(clock: Clock) -> None:
    cache = MonitoredTTLCache[str, int]("t_delete", maxsize=10, ttl=60, timer=clock)
    cache["a"], cache["b"], cache["c"] = 1, 2, 3
    del cache["a"]
    assert cache.pop("b") == 2
    assert value("loadwatch_cache_items", "t_delete") == 1
    cache.clear()
    assert value("loadwatch_cache_evictions_total", "t_delete") == 0
    assert value("loadwatch_cache_hits_total", "t_delete") == 0  # pop is not a lookup
    assert value("loadwatch_cache_items", "t_delete") == 0

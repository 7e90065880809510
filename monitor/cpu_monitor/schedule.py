"""Ticks on a fixed schedule that doesn't drift: tick k is due at start + k * interval."""

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Ticker:
    """Yields (k, due) for k = 1, 2, ...; stops when ``stop`` is set. Time ``start`` is
    tick 0, the baseline that the first reading is measured from.

    Sleeping until an absolute due time, rather than for an interval, keeps the error of
    one tick from adding to the next. A tick that is already past (the machine was
    suspended, say) is skipped rather than fired in a burst.
    """

    interval: float
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.monotonic
    # Waits up to the given seconds; True when stopped. Tests pass a fake with their clock.
    wait: Callable[[float], bool] | None = None
    start: float | None = None

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError("interval must be > 0")

    def due(self, k: int) -> float:
        assert self.start is not None
        return self.start + k * self.interval

    def __iter__(self) -> Iterator[tuple[int, float]]:
        if self.start is None:
            self.start = self.clock()
        k = 1
        while not self.stop.is_set():
            now = self.clock()
            due = self.due(k)
            if now - due >= self.interval:  # a whole tick late: skip to the next one ahead
                k = math.floor((now - self.start) / self.interval) + 1
                continue
            wait = self.wait or self.stop.wait
            if due > now and wait(due - now):
                return
            yield k, due
            k += 1

"""Deliver samples and events from a thread of their own: batches, retries (the policy of
retry.py, for as long as the monitor runs), and a final flush.

The sampling thread only appends to buffers, so a slow or absent API never delays a
sample.
"""

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cpu_monitor.api import ApiClient, ApiError
from cpu_monitor.retry import delays

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # per POST when catching up after an outage
# per_cpu values the service takes in one POST (a machine of more than 262 CPUs sends fewer
# than MAX_BATCH samples at a time).
MAX_PER_CPU_VALUES = 262_144
MAX_DELAY = 10.0  # seconds a sample may wait for its batch to fill


def fitting(items: Iterable[dict[str, Any]]) -> int:
    """How many of the leading items one POST carries: at most MAX_BATCH, with at most
    MAX_PER_CPU_VALUES per_cpu values together (and always at least one)."""
    values = count = 0
    for count, item in enumerate(itertools.islice(items, MAX_BATCH), start=1):
        values += len(item.get("per_cpu") or ())
        if values > MAX_PER_CPU_VALUES and count > 1:
            return count - 1
    return count


@dataclass
class Outbox:
    """One kind of item waiting for delivery, and what became of the rest."""

    post: Callable[[list[dict[str, Any]]], int]  # returns how many the service took
    items: deque[dict[str, Any]] = field(default_factory=deque)
    delivered: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)  # 4xx: not retried


class Sender(threading.Thread):
    def __init__(self, client: ApiClient, run_id: str, batch_size: int) -> None:
        super().__init__(name="cpu-monitor-sender", daemon=True)
        self.batch_size = batch_size
        self.samples = Outbox(lambda batch: sum(client.post_samples(run_id, batch)))
        self.events = Outbox(lambda batch: client.post_events(run_id, batch))
        self._lock = threading.Condition()
        self._closing = False
        self._deadline: float | None = None

    def add(self, sample: dict[str, Any]) -> None:
        with self._lock:
            self.samples.items.append(sample)
            # The first sample starts the sender's clock (MAX_DELAY); a full batch goes now.
            if len(self.samples.items) in (1, self.batch_size):
                self._lock.notify()

    def add_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.items.append(event)
            self._lock.notify()

    def pending(self) -> int:
        with self._lock:
            return len(self.samples.items) + len(self.events.items)

    def close(self, timeout: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Flush for up to ``timeout`` seconds; returns the samples (in seq order) and the
        events that were not delivered."""
        with self._lock:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._lock.notify()
        self.join(timeout + 1.0)
        with self._lock:
            samples = sorted(
                [*self.samples.items, *self.samples.refused], key=lambda s: int(s["seq"])
            )
            return samples, [*self.events.items, *self.events.refused]

    def _take(self) -> tuple[Outbox, list[dict[str, Any]]] | None:
        """The next batch to send, or None when it is time to stop."""
        with self._lock:
            waiting_since = time.monotonic()
            while True:
                if self.events.items:
                    box = self.events
                    break
                samples = self.samples.items
                if self._closing:
                    if not samples or time.monotonic() >= (self._deadline or 0):
                        return None
                    box = self.samples
                    break
                waited = time.monotonic() - waiting_since
                if len(samples) >= self.batch_size or (samples and waited >= MAX_DELAY):
                    box = self.samples
                    break
                # Asleep until a sample, an event or the close comes, or the batch is due:
                # no polling, since every wake-up costs CPU on the machine being measured.
                self._lock.wait(timeout=MAX_DELAY - waited if samples else None)
            if self._closing and time.monotonic() >= (self._deadline or 0):
                return None
            return box, [box.items[i] for i in range(fitting(box.items))]

    def _settle(self, box: Outbox, count: int, delivered: int) -> None:
        with self._lock:
            for _ in range(count):
                box.items.popleft()
            box.delivered += delivered

    def _refuse(self, box: Outbox, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            box.refused.extend(batch)
        self._settle(box, len(batch), 0)

    def _back_off(self, seconds: float) -> bool:
        """Wait before a retry; False when closing and out of time."""
        with self._lock:
            if self._closing and self._deadline is not None:
                seconds = min(seconds, self._deadline - time.monotonic())
                if seconds <= 0:
                    return False
            self._lock.wait(timeout=seconds)
        return True

    def run(self) -> None:
        waits = delays()
        while (work := self._take()) is not None:
            box, batch = work
            try:
                delivered = box.post(batch)
            except ApiError as error:
                if not error.retryable:
                    log.warning("the service refused %d items: %s", len(batch), error)
                    self._refuse(box, batch)
                    continue
                if not self._back_off(next(waits)):
                    return
                continue
            waits = delays()
            self._settle(box, len(batch), delivered)

"""Deliver samples from a thread of their own: batches, retries with backoff, a final flush.

The sampling thread only appends to a buffer, so a slow or absent API never delays a
sample. A retried batch is safe: the service drops a seq it already stored.
"""

import logging
import random
import threading
import time
from collections import deque
from typing import Any

from cpu_monitor.api import ApiClient, ApiError

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # per POST when catching up after an outage
MAX_DELAY = 10.0  # seconds a sample may wait for its batch to fill
BACKOFF_START, BACKOFF_MAX = 0.5, 10.0


class Sender(threading.Thread):
    def __init__(self, client: ApiClient, run_id: str, batch_size: int) -> None:
        super().__init__(name="cpu-monitor-sender", daemon=True)
        self.client = client
        self.run_id = run_id
        self.batch_size = batch_size
        self._buffer: deque[dict[str, Any]] = deque()
        self._lock = threading.Condition()
        self._closing = False
        self._deadline: float | None = None
        self.delivered = 0  # acknowledged by the service: stored now or before (duplicates)
        self.duplicates = 0
        self.rejected: list[dict[str, Any]] = []  # refused for good (4xx): kept for the spool
        self.last_error: str | None = None
        self.outage_started: float | None = None

    def add(self, sample: dict[str, Any]) -> None:
        with self._lock:
            self._buffer.append(sample)
            if len(self._buffer) >= self.batch_size:
                self._lock.notify()

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def close(self, timeout: float) -> list[dict[str, Any]]:
        """Flush for up to ``timeout`` seconds; returns what was not delivered, in seq order."""
        with self._lock:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._lock.notify()
        self.join(timeout + 1.0)
        with self._lock:
            left = list(self._buffer) + self.rejected
        return sorted(left, key=lambda s: int(s["seq"]))

    def _take(self) -> list[dict[str, Any]] | None:
        """The next batch to send, or None when it is time to stop."""
        with self._lock:
            first_wait = time.monotonic()
            while True:
                if self._closing:
                    if not self._buffer or time.monotonic() >= (self._deadline or 0):
                        return None
                    break
                if len(self._buffer) >= self.batch_size:
                    break
                if self._buffer and time.monotonic() - first_wait >= MAX_DELAY:
                    break
                self._lock.wait(timeout=0.5)
            return [self._buffer[i] for i in range(min(len(self._buffer), MAX_BATCH))]

    def _done(self, count: int) -> None:
        with self._lock:
            for _ in range(count):
                self._buffer.popleft()

    def _sleep(self, seconds: float) -> bool:
        """Back off; False when closing and out of time."""
        with self._lock:
            if self._closing and self._deadline is not None:
                seconds = min(seconds, self._deadline - time.monotonic())
                if seconds <= 0:
                    return False
            self._lock.wait(timeout=seconds)
        return True

    def run(self) -> None:
        backoff = BACKOFF_START
        while (batch := self._take()) is not None:
            try:
                accepted, duplicates = self.client.post_samples(self.run_id, batch)
            except ApiError as error:
                if not error.retryable:
                    log.warning("the service refused %d samples: %s", len(batch), error)
                    with self._lock:
                        self.rejected.extend(batch)
                    self._done(len(batch))
                    continue
                if self.outage_started is None:
                    self.outage_started = time.monotonic()
                self.last_error = str(error)
                if not self._sleep(backoff * random.uniform(0.8, 1.2)):
                    return
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            self.outage_started = None
            backoff = BACKOFF_START
            self.delivered += accepted + duplicates
            self.duplicates += duplicates
            self._done(len(batch))

"""The one retry policy for calls to the service: exponential backoff with jitter.

Only a retryable failure (the service unreachable, a 5xx, a 429) is tried again; a 4xx
other than 429 will not change by waiting. Retries are safe: the service drops a seq it
already stored, and stores an event sent twice once (its id is a hash of its content).
"""

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from cpu_monitor.api import ApiError

T = TypeVar("T")

FIRST_DELAY, MAX_DELAY = 0.5, 10.0  # seconds


def delays() -> Iterator[float]:
    """Seconds to wait before each retry: 0.5, 1, 2, 4, 8, then 10 s for ever, each within
    ±20 % so that clients that failed together do not retry together."""
    delay = FIRST_DELAY
    while True:
        yield delay * random.uniform(0.8, 1.2)
        delay = min(delay * 2, MAX_DELAY)


def with_retries(call: Callable[[], T], retries: int = 4) -> T:
    """``call()``, tried again up to ``retries`` times while its failure is retryable
    (about 7.5 s in all with the default); raises the last ApiError."""
    waits = delays()
    for _ in range(retries):
        try:
            return call()
        except ApiError as error:
            if not error.retryable:
                raise
        time.sleep(next(waits))
    return call()

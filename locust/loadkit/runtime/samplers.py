"""Draws of test data from a source: random, sequential, or sequential without repeats.

A source is any sequence: the rows of a CSV file (``csv_rows``) or values made on demand
by a function of the index (``Generated``).
"""

import csv
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar, overload

T = TypeVar("T")


def csv_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header row, as dicts."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class Generated(Sequence[T]):
    """``size`` values, value i being ``make(i)``, made when asked for. (Not ``count``:
    that name is Sequence.count, which must keep counting occurrences of a value.)"""

    def __init__(self, make: Callable[[int], T], size: int) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.make = make
        self.size = size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        return self.make(index % self.size)


class SamplerExhausted(LookupError):
    """A unique sampler has handed out every value."""


class _Sampler(Generic[T]):
    def __init__(self, source: Sequence[T]) -> None:
        if len(source) == 0:
            raise ValueError("the data source is empty")
        self.source = source
        self._lock = threading.Lock()

    def next(self) -> T:
        raise NotImplementedError

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                yield self.next()
            except SamplerExhausted:
                return


class RandomSampler(_Sampler[T]):
    """Any value, each draw independent of the others."""

    def __init__(self, source: Sequence[T], rng: random.Random | None = None) -> None:
        super().__init__(source)
        self.rng = rng or random.Random()

    def next(self) -> T:
        return self.source[self.rng.randrange(len(self.source))]


class SequentialSampler(_Sampler[T]):
    """Values in order, starting over after the last."""

    def __init__(self, source: Sequence[T]) -> None:
        super().__init__(source)
        self._position = 0

    def next(self) -> T:
        with self._lock:
            value = self.source[self._position % len(self.source)]
            self._position += 1
            return value


class UniqueSequentialSampler(_Sampler[T]):
    """Values in order, each at most once; then SamplerExhausted."""

    def __init__(self, source: Sequence[T]) -> None:
        super().__init__(source)
        self._position = 0

    @property
    def remaining(self) -> int:
        return len(self.source) - self._position

    def next(self) -> T:
        with self._lock:
            if self._position >= len(self.source):
                raise SamplerExhausted(f"all {len(self.source)} values were handed out")
            value = self.source[self._position]
            self._position += 1
            return value

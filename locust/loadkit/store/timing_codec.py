"""Timings in the service's compact chunk layout, both ways (the service's
``domain/load_test_chunks.py`` and docs/api.md describe it): sorted by start time, four
columns of little-endian integers (the start time in microseconds after the previous
timing's, the first after ``t0_us``; the response time in microseconds; the endpoint's
index; the flags), each split into byte planes, compressed with zlib. Sorting makes the
start times small steps, and byte planes put the alike high bytes together: a timing costs
a few bytes. Times are kept to the microsecond."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

OK, OUTSIDE, CANDIDATE_SIDE = 1, 2, 4  # the flags
COLUMNS = (("<i8", 8), ("<u4", 4), ("<u2", 2), ("<u1", 1))  # start, response, endpoint, flags
LEVEL = 6  # zlib's: within a few percent of 9's size, several times faster


@dataclass(frozen=True)
class Columns:
    """Timings in columns: start (Unix seconds), response time (ms), endpoint index, flags."""

    ts: np.ndarray
    ms: np.ndarray
    endpoint: np.ndarray
    flags: np.ndarray


def encode(columns: Columns) -> tuple[int, bytes]:
    """(t0_us, data) of a chunk of these timings."""
    import numpy as np

    starts = np.round(np.asarray(columns.ts, dtype=np.float64) * 1e6).astype(np.int64)
    order = np.argsort(starts, kind="stable")
    starts = starts[order]
    t0 = int(starts[0])
    values = (
        np.diff(starts, prepend=t0),
        np.round(np.asarray(columns.ms, dtype=np.float64)[order] * 1000).clip(0, 2**32 - 1),
        np.asarray(columns.endpoint)[order],
        np.asarray(columns.flags)[order],
    )
    planes = b"".join(
        np.ascontiguousarray(column.astype(dtype).view(np.uint8).reshape(-1, width).T).tobytes()
        for column, (dtype, width) in zip(values, COLUMNS, strict=True)
    )
    return t0, zlib.compress(planes, LEVEL)


def decode(count: int, t0_us: int, data: bytes) -> Columns:
    """The timings of a chunk, in the order of their start."""
    import numpy as np

    raw = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    columns = []
    offset = 0
    for dtype, width in COLUMNS:
        planes = raw[offset : offset + count * width].reshape(width, count)
        columns.append(np.ascontiguousarray(planes.T).view(dtype).reshape(count))
        offset += count * width
    steps, micros, endpoint, flags = columns
    return Columns(
        (t0_us + np.cumsum(steps)) / 1e6,
        micros.astype(np.float64) / 1000,
        endpoint.astype(np.int64),
        flags,
    )

"""A counter that all worker processes of one service read and bump, through a file."""

import fcntl
import mmap
import os
import struct
from pathlib import Path

_FORMAT = "<Q"
_SIZE = struct.calcsize(_FORMAT)


class SharedCounter:
    """A 64-bit counter in a small memory-mapped file; in memory when no path is given.

    Reading costs no system call, so it can be checked on every request.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._local = 0
        self._file: int | None = None
        self._map: mmap.mmap | None = None
        if path is not None:
            self._file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(self._file).st_size < _SIZE:
                os.ftruncate(self._file, _SIZE)
            self._map = mmap.mmap(self._file, _SIZE)

    @property
    def value(self) -> int:
        if self._map is None:
            return self._local
        return int(struct.unpack_from(_FORMAT, self._map, 0)[0])

    def increment(self) -> None:
        if self._map is None or self._file is None:
            self._local += 1
            return
        fcntl.flock(self._file, fcntl.LOCK_EX)
        try:
            struct.pack_into(_FORMAT, self._map, 0, self.value + 1)
        finally:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._file is not None:
            os.close(self._file)
        self._map = self._file = None

"""What every load generator keeps of its own requests between two reports: their times
in columns (``Buffer``), and its busiest CPU share (``CpuPeak``). A worker sends both with
its stats reports; the recorder (recorder.py) stores them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import gevent
import psutil

from loadkit.core.records import BASELINE, Batch

REPORT_KEY = "loadkit_timings"
CPU_KEY = "loadkit_cpu_peak"
SETUP_KEY = "loadwatch_setup"
SETUP = {SETUP_KEY: True}  # pass as a request's ``context``: recorded, not measured
CPU_SAMPLE_SECONDS = 2.0


class Buffer:
    """Timings of this process since they were last handed on, in columns."""

    def __init__(self) -> None:
        self.worker = "local"
        self._batch = Batch()
        self._index: dict[tuple[str, str, int], int] = {}

    def add(
        self,
        ts: float,
        request_type: str,
        name: str,
        ms: float,
        ok: bool,
        setup: bool = False,
        side: int = BASELINE,
    ) -> None:
        batch = self._batch
        key = (request_type, name, side)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(batch.endpoints)
            batch.endpoints.append((request_type, name))
            batch.sides.append(side)
        if setup:
            batch.setup.append(len(batch.ts))
        batch.endpoint.append(index)
        batch.ts.append(ts)
        batch.ms.append(ms)
        batch.ok.append(ok)

    def take(self) -> Batch:
        batch, self._batch = self._batch, Batch(worker=self.worker)
        self._index = {}
        return batch


class CpuSink(Protocol):
    def cpu(self, percent: float | None) -> None: ...


class CpuPeak:
    """This process's busiest CPU share over CPU_SAMPLE_SECONDS windows since it was last
    taken. Every load generator runs one; workers send theirs with their stats reports,
    so a test of any length gets figures (Locust's own monitor reads every 10 s)."""

    def __init__(self) -> None:
        self.peak: float | None = None

    def run(self, sink: Callable[[], CpuSink | None]) -> None:
        """Sample forever; where ``sink()`` gives a recorder (the master's or local
        process's), hand it each window's peak."""
        process = psutil.Process()
        process.cpu_percent()  # the first reading only sets the start
        while True:
            gevent.sleep(CPU_SAMPLE_SECONDS)
            value = float(process.cpu_percent())
            self.peak = value if self.peak is None else max(self.peak, value)
            recorder = sink()
            if recorder is not None:  # the master's or local process's own share
                recorder.cpu(self.take())

    def take(self) -> float | None:
        peak, self.peak = self.peak, None
        return peak

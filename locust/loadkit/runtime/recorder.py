"""The master's (or local process's) recorder: one results run per test, written into the
results store by one writer thread (a real OS thread from gevent's pool), so that the event
loop never waits on the disk. It collects each run's timings as the load generators hand
them on (``loadkit.runtime.recording`` hooks it into Locust), the busiest generator's peak
CPU, and the pacing's changes, and closes the run once every worker's last timings are in.
A test is a run: ``test_start`` opens it, ``test_stop`` closes it (a web UI runs test after
test in one process), and so does a reset of the statistics mid-test. The web UI reads on
a second handle and thread, so a long comparison on the writer never holds up a page."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.threadpool import ThreadPool

from loadkit.core.records import Batch
from loadkit.runtime.pacing import Pacing
from loadkit.runtime.timings import Buffer
from loadkit.store.base import ResultsStore

log = logging.getLogger(__name__)

# How long a closing run waits for the workers' last timings. They come before the master's
# own test_stop when the test is stopped; when Locust quits, they come within its 0.5 s.
FINAL_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class ClosedRun:
    run_id: int
    label: str
    received: int
    duet: bool = False  # it had a candidate side


class Recorder:
    """The master's (or local process's) side: one results run per test, one writer thread."""

    def __init__(
        self, store: ResultsStore, pacing: Pacing | None = None, buffer: Buffer | None = None
    ) -> None:
        self.store = store
        self.pacing = pacing or Pacing()
        self.buffer = buffer or Buffer()  # in local mode, this process's own timings
        self.run_id: int | None = None
        self.label: str | None = None
        self.started_at = 0.0
        self.spawned_at: float | None = None
        self.received = 0
        self.duet = False  # this run has a candidate side
        self.peak_cpu: float | None = None  # the busiest load generator's, this run
        self.reporters: set[str] = set()  # workers heard from during this run
        self.finals: set[str] = set()  # workers whose last timings arrived
        self.closing: gevent.Greenlet | None = None
        self._writer = ThreadPool(1)
        # The web UI reads on a connection and thread of its own, so a long comparison on
        # the writer never holds up a page.
        self._reader = ThreadPool(1)
        self._read_store: ResultsStore | None = None

    def _write(self, call: Any, *args: Any) -> Any:
        """Run a store call on the writer thread, in submission order."""
        return self._writer.spawn(call, *args)

    def call(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run ``call(store, *args)`` on the writer thread after what is queued; wait."""
        return self._write(call, self.store, *args).get()

    def read(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run ``call(store, *args)`` on the reader thread and its connection; wait."""

        def read_in_reader() -> Any:
            if self._read_store is None:
                self._read_store = self.store.reopen()
            return call(self._read_store, *args)

        return self._reader.spawn(read_in_reader).get()

    def start(self, label: str, settings: dict[str, Any]) -> None:
        def start_in_writer() -> tuple[int, str]:
            _lower_this_threads_priority()
            return self.store.start_run(label, settings)

        self.wait_closed()  # a test started right after STOP: the last one closes first
        self.spawned_at = self.peak_cpu = None
        self.received = 0
        self.reporters, self.finals = set(), set()
        self.started_at = settings["started_at"] = time.time()
        self.duet = bool(settings.get("candidate_host"))
        try:
            self.run_id, self.label = self._write(start_in_writer).get()
        except LookupError as error:  # the store refused (the service's reason, in one line)
            self.run_id = None
            log.error("loadkit: this test is not recorded: %s", error)
            return
        if self.label != label:
            log.warning("loadkit: run label %r is taken: this run is %r", label, self.label)
        log.info("loadkit: recording every request as run %r in %s", self.label, self.store.where)

    def spawned(self) -> None:
        self.spawned_at = time.time()
        if self.run_id is not None:
            self._write(self.store.mark_spawned, self.run_id, self.spawned_at)

    def cpu(self, percent: float | None) -> None:
        if percent is None or self.run_id is None:
            return
        self.peak_cpu = percent if self.peak_cpu is None else max(self.peak_cpu, percent)

    def add(self, batch: Batch) -> None:
        if self.run_id is None or not len(batch):  # none, or after its run closed
            return
        self.received += len(batch)
        self._write(self.store.add_timings, self.run_id, batch, self.spawned_at)

    def heard_from(self, worker: str) -> None:
        if self.run_id is not None:
            self.reporters.add(worker)

    def final_from(self, worker: str) -> None:
        self.finals.add(worker)

    def close_soon(self, then: Callable[[ClosedRun], None], wait_for_workers: bool = True) -> None:
        """Close the run once every worker heard from has sent its last timings (or after
        FINAL_WAIT_SECONDS), then call ``then`` with it, in a greenlet of its own."""
        if self.run_id is None or self.closing is not None:
            return

        def close() -> None:
            deadline = time.monotonic() + FINAL_WAIT_SECONDS
            try:
                while wait_for_workers and not self.reporters <= self.finals:
                    if time.monotonic() > deadline:
                        missing = ", ".join(sorted(self.reporters - self.finals))
                        log.warning("loadkit: no last timings from %s: run closed without", missing)
                        break
                    gevent.sleep(0.05)
                closed = self.finish()
                if closed is not None:
                    then(closed)
            finally:
                self.closing = None

        self.closing = gevent.spawn(close)

    def wait_closed(self) -> None:
        if self.closing is not None:
            self.closing.join()

    def finish(self) -> ClosedRun | None:
        """Write what is queued and close the run; returns once it is on disk."""
        if self.run_id is None:
            return None
        self.add(self.buffer.take())  # local mode: what the flusher has not handed on yet
        run_id, started = self.run_id, self.started_at
        changes = self.pacing.changes_since(started)

        self._write(self.store.finish_run, run_id, time.time(), self.peak_cpu, changes).get()
        closed = ClosedRun(run_id, self.label or "", self.received, self.duet)
        self.run_id = None
        log.info("loadkit: %d request timings stored for run %r", closed.received, closed.label)
        return closed

    def shutdown(self) -> None:
        self._writer.join()


def _lower_this_threads_priority() -> None:
    """The writer is background work: at nice 19 it never takes CPU from the users."""
    from gevent import monkey

    get_native_id = monkey.get_original("threading", "get_native_id")
    try:
        os.setpriority(os.PRIO_PROCESS, get_native_id(), 19)  # a thread's own nice, on Linux
    except (AttributeError, OSError):
        pass

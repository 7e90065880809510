"""Record every request's time, off Locust's hot path, one results run per test.

- Each worker's ``request`` listener appends a tuple to a list: nothing else per request.
- The list rides to the master with the worker's stats reports (``report_to_master`` /
  ``worker_report``), so it is exactly as complete as Locust's own statistics. When a
  worker's test stops, it sends what is left in a message of its own, ahead of the
  ``client_stopped`` that lets the master's test stop: the run is complete when it closes.
- The master hands each batch to one writer thread (a real OS thread from gevent's pool)
  that ``executemany``s it into SQLite; the event loop never waits on the disk.
- In local mode the same process buffers and flushes every second.
- Every load generator samples its own CPU; workers send their peak with the same reports,
  so each run records the busiest generator's peak (a comparability check).
- A test is a run: ``test_start`` opens it, ``test_stop`` closes it (a web UI runs test
  after test in one process), and so does a reset of the statistics mid-test.
- A request made with ``context=SETUP`` (a login, creating what the user works on) is
  stored but lies outside the measured window, like the ramp-up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
from gevent.threadpool import ThreadPool

from loadkit import state
from loadkit.defaults import HISTORY, PREVIOUS
from loadkit.options import usage_error
from loadkit.pacing import Pacing
from loadkit.results import Batch, NotAStore, ResultsStore
from loadkit.timings import CPU_KEY, REPORT_KEY, SETUP_KEY, Buffer

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

    from loadkit.state import Kit

log = logging.getLogger(__name__)

FINAL_MESSAGE = "loadkit_final"
LOCAL_FLUSH_SECONDS = 1.0
# How long a closing run waits for the workers' last timings. They come before the master's
# own test_stop when the test is stopped; when Locust quits, they come within its 0.5 s.
FINAL_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class ClosedRun:
    run_id: int
    label: str
    received: int


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
                self._read_store = ResultsStore(self.store.path)
            return call(self._read_store, *args)

        return self._reader.spawn(read_in_reader).get()

    def start(self, label: str, settings: dict[str, Any]) -> None:
        def start_in_writer() -> tuple[int, str]:
            _lower_this_threads_priority()
            free = self.store.free_label(label)
            return self.store.start_run(free, settings), free

        self.wait_closed()  # a test started right after STOP: the last one closes first
        self.spawned_at = self.peak_cpu = None
        self.received = 0
        self.reporters, self.finals = set(), set()
        self.started_at = settings["started_at"] = time.time()
        self.run_id, self.label = self._write(start_in_writer).get()
        if self.label != label:
            log.warning("loadkit: run label %r is taken: this run is %r", label, self.label)
        log.info("loadkit: recording every request as run %r in %s", self.label, self.store.path)

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

        def finish_in_writer(stopped_at: float, peak_cpu: float | None) -> None:
            for ts, seconds in changes:
                self.store.add_pacing_change(run_id, ts, seconds)
            self.store.finish_run(run_id, stopped_at, peak_cpu)

        self._write(finish_in_writer, time.time(), self.peak_cpu).get()
        closed = ClosedRun(run_id, self.label or "", self.received)
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


def locustfile_hash(environment: Environment) -> str:
    digest = hashlib.sha256()
    paths = getattr(environment.parsed_options, "locustfile", "") or ""
    for path in sorted(str(p) for p in str(paths).split(",") if p):
        file = Path(path)
        if file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def _listen(environment: Environment, kit: Kit) -> None:
    """The request and report listeners of this Environment, bound to its state."""

    def on_request(
        request_type: str,
        name: str,
        response_time: float,
        exception: BaseException | None = None,
        start_time: float | None = None,
        context: dict[str, Any] | None = None,
        **_kwargs: Any,
    ) -> None:
        kit.buffer.add(
            start_time if start_time is not None else time.time() - response_time / 1000,
            request_type,
            name,
            response_time,
            exception is None,
            bool(context and context.get(SETUP_KEY)),
        )

    environment.events.request.add_listener(on_request)


def _report(kit: Kit, data: dict[str, Any]) -> None:
    data[REPORT_KEY] = kit.buffer.take().to_message()
    data[CPU_KEY] = kit.cpu_peak.take()


def _received(kit: Kit, client_id: str, data: dict[str, Any]) -> None:
    if kit.recorder is not None and REPORT_KEY in data:
        kit.recorder.heard_from(client_id)
        kit.recorder.add(Batch.from_message(data[REPORT_KEY]))
        kit.recorder.cpu(data.get(CPU_KEY))


def _flush_locally(kit: Kit) -> None:
    while True:
        gevent.sleep(LOCAL_FLUSH_SECONDS)
        if kit.recorder is not None:
            kit.recorder.add(kit.buffer.take())


def on_init(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import LocalRunner, MasterRunner, WorkerRunner

    kit = state.kit(environment)
    runner = environment.runner
    events = environment.events
    if isinstance(runner, WorkerRunner):
        # The master's options only come with its first spawn message, so a worker always
        # buffers; with recording off the master just ignores what rides along.
        kit.buffer.worker = runner.client_id
        kit.buffer.take()
        _listen(environment, kit)
        events.report_to_master.add_listener(lambda data, **_: _report(kit, data))

        def send_last_timings(**_: Any) -> None:
            """This worker's test stopped: its last timings go now, before it reports
            stopped."""
            data: dict[str, Any] = {}
            _report(kit, data)
            runner.send_message(FINAL_MESSAGE, data)

        events.test_stop.add_listener(send_last_timings)
        gevent.spawn(kit.cpu_peak.run, kit)
        return
    if not isinstance(runner, MasterRunner | LocalRunner) or environment.parsed_options is None:
        return
    if not environment.parsed_options.results_db:  # --results-db '': recording is off
        return
    options = environment.parsed_options
    try:
        store = ResultsStore(options.results_db)
    except NotAStore as error:
        usage_error(f"--results-db: {error}")
    if options.baseline not in ("", PREVIOUS, HISTORY) and store.run(options.baseline) is None:
        usage_error(f"--baseline: no run labelled {options.baseline!r} in {options.results_db}")
    kit.recorder = Recorder(store, kit.pacing, kit.buffer)
    events.worker_report.add_listener(lambda client_id, data, **_: _received(kit, client_id, data))
    events.spawning_complete.add_listener(lambda **_: _spawned(kit))
    gevent.spawn(kit.cpu_peak.run, kit)
    if isinstance(runner, MasterRunner):

        def on_last_timings(msg: Any, **_: Any) -> None:
            _received(kit, msg.node_id, msg.data)
            if kit.recorder is not None:
                kit.recorder.final_from(msg.node_id)

        runner.register_message(FINAL_MESSAGE, on_last_timings)
    if isinstance(runner, LocalRunner):
        _listen(environment, kit)
        gevent.spawn(_flush_locally, kit)


def start_run(environment: Environment) -> None:
    options = environment.parsed_options
    recorder = state.kit(environment).recorder
    if recorder is None or options is None:
        return
    label = options.run_label or datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    recorder.start(
        label,
        {
            "users": options.num_users,
            "spawn_rate": options.spawn_rate,
            "run_time": options.run_time,
            "host": environment.host,
            "locustfile_hash": locustfile_hash(environment),
            "pacing": getattr(options, "pacing", None),
        },
    )


def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    start_run(environment)


def _spawned(kit: Kit) -> None:
    recorder = kit.recorder
    if recorder is not None and recorder.run_id is not None and recorder.spawned_at is None:
        recorder.spawned()

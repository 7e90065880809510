"""Record every request's time, off Locust's hot path.

- Each worker's ``request`` listener appends a tuple to a list: nothing else per request.
- The list rides to the master with the worker's stats reports (``report_to_master`` /
  ``worker_report``), so it is exactly as complete as Locust's own statistics.
- The master hands each batch to one writer thread (a real OS thread from gevent's pool)
  that ``executemany``s it into SQLite; the event loop never waits on the disk.
- In local mode the same process buffers and flushes every second.
- Every load generator samples its own CPU; workers send their peak with the same reports,
  so each run records the busiest generator's peak (a comparability check).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
import psutil
from gevent.threadpool import ThreadPool

from loadkit.results import Batch, ResultsStore

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)

REPORT_KEY = "loadkit_timings"
CPU_KEY = "loadkit_cpu_peak"
LOCAL_FLUSH_SECONDS = 1.0
CPU_SAMPLE_SECONDS = 2.0


class Recorder:
    """The master's (or local process's) side: one results run, one writer thread."""

    def __init__(self, store: ResultsStore) -> None:
        self.store = store
        self.run_id: int | None = None
        self.label: str | None = None
        self.spawned_at: float | None = None
        self.received = 0
        self.peak_cpu: float | None = None  # the busiest load generator's, this run
        self._writer = ThreadPool(1)

    def _write(self, call: Any, *args: Any) -> Any:
        """Run a store call on the writer thread, in submission order."""
        return self._writer.spawn(call, *args)

    def start(self, label: str, settings: dict[str, Any]) -> None:
        def start_in_writer() -> tuple[int, str]:
            _lower_this_threads_priority()
            free = self.store.free_label(label)
            return self.store.start_run(free, settings), free

        # A web UI runs test after test in one process: each is a run of its own.
        self.spawned_at = self.peak_cpu = None
        self.received = 0
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
        if self.run_id is None or not len(batch):
            return
        self.received += len(batch)
        self._write(self.store.add_timings, self.run_id, batch, self.spawned_at)

    def finish(self) -> None:
        """Write what is queued and close the run; returns once it is on disk."""
        if self.run_id is not None:
            finish = self.store.finish_run
            self._write(finish, self.run_id, time.time(), self.peak_cpu).get()
        self._writer.join()


def _lower_this_threads_priority() -> None:
    """The writer is background work: at nice 19 it never takes CPU from the users."""
    from gevent import monkey

    get_native_id = monkey.get_original("threading", "get_native_id")
    try:
        os.setpriority(os.PRIO_PROCESS, get_native_id(), 19)  # a thread's own nice, on Linux
    except (AttributeError, OSError):
        pass


class Buffer:
    """Timings of this process since they were last handed on, in columns."""

    def __init__(self) -> None:
        self.worker = "local"
        self._batch = Batch()
        self._index: dict[tuple[str, str], int] = {}

    def add(self, ts: float, request_type: str, name: str, ms: float, ok: bool) -> None:
        batch = self._batch
        key = (request_type, name)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(batch.endpoints)
            batch.endpoints.append(key)
        batch.endpoint.append(index)
        batch.ts.append(ts)
        batch.ms.append(ms)
        batch.ok.append(ok)

    def take(self) -> Batch:
        batch, self._batch = self._batch, Batch(worker=self.worker)
        self._index = {}
        return batch


buffer = Buffer()
recorder: Recorder | None = None


def locustfile_hash(environment: Environment) -> str:
    digest = hashlib.sha256()
    paths = getattr(environment.parsed_options, "locustfile", "") or ""
    for path in sorted(str(p) for p in str(paths).split(",") if p):
        file = Path(path)
        if file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def on_request(
    request_type: str,
    name: str,
    response_time: float,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_kwargs: Any,
) -> None:
    buffer.add(
        start_time if start_time is not None else time.time() - response_time / 1000,
        request_type,
        name,
        response_time,
        exception is None,
    )


def on_report_to_master(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    data[REPORT_KEY] = buffer.take().to_message()
    data[CPU_KEY] = cpu_peak.take()


def on_worker_report(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    if recorder is not None and REPORT_KEY in data:
        recorder.add(Batch.from_message(data[REPORT_KEY]))
        recorder.cpu(data.get(CPU_KEY))


def _flush_locally() -> None:
    while True:
        gevent.sleep(LOCAL_FLUSH_SECONDS)
        if recorder is not None:
            recorder.add(buffer.take())


class CpuPeak:
    """This process's busiest CPU share over CPU_SAMPLE_SECONDS windows since it was last
    taken. Every load generator runs one; workers send theirs with their stats reports,
    so a test of any length gets figures (Locust's own monitor reads every 10 s)."""

    def __init__(self) -> None:
        self.peak: float | None = None

    def run(self) -> None:
        process = psutil.Process()
        process.cpu_percent()  # the first reading only sets the start
        while True:
            gevent.sleep(CPU_SAMPLE_SECONDS)
            value = float(process.cpu_percent())
            self.peak = value if self.peak is None else max(self.peak, value)
            if recorder is not None:  # the master's or local process's own share
                recorder.cpu(self.take())

    def take(self) -> float | None:
        peak, self.peak = self.peak, None
        return peak


cpu_peak = CpuPeak()


def on_init(environment: Environment, **_kwargs: Any) -> None:
    global recorder
    from locust.runners import LocalRunner, MasterRunner, WorkerRunner

    runner = environment.runner
    events = environment.events
    if isinstance(runner, WorkerRunner):
        # The master's options only come with its first spawn message, so a worker always
        # buffers; with recording off the master just ignores what rides along.
        buffer.worker = runner.client_id
        buffer.take()
        events.request.add_listener(on_request)
        events.report_to_master.add_listener(on_report_to_master)
        gevent.spawn(cpu_peak.run)
        return
    if not isinstance(runner, MasterRunner | LocalRunner) or environment.parsed_options is None:
        return
    if not environment.parsed_options.results_db:  # --results-db '': recording is off
        return
    recorder = Recorder(ResultsStore(environment.parsed_options.results_db))
    events.worker_report.add_listener(on_worker_report)
    gevent.spawn(cpu_peak.run)
    if isinstance(runner, LocalRunner):
        events.request.add_listener(on_request)
        gevent.spawn(_flush_locally)


def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    options = environment.parsed_options
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


def on_spawning_complete(user_count: int, **_kwargs: Any) -> None:
    if recorder is not None and recorder.spawned_at is None:
        recorder.spawned()


def finish_recording() -> Recorder | None:
    """Flush the last batches and close the run (called when Locust quits)."""
    if recorder is None:
        return None
    recorder.add(buffer.take())  # local mode: what the flusher has not handed on yet
    recorder.finish()
    log.info("loadkit: %d request timings stored for run %r", recorder.received, recorder.label)
    return recorder

"""Hooks the recorder (``loadkit.runtime.recorder``) into Locust, off its hot path:

- Each worker's ``request`` listener appends a tuple to a list: nothing else per request.
- The list rides to the master with the worker's stats reports (``report_to_master`` /
  ``worker_report``), so it is exactly as complete as Locust's own statistics. When a
  worker's test stops, it sends what is left in a message of its own, ahead of the
  ``client_stopped`` that lets the master's test stop: the run is complete when it closes.
- In local mode the same process buffers and flushes every second.
- Every load generator samples its own CPU; workers send their peak with the same reports.
- A test is a run: ``test_start`` opens it, ``test_stop`` closes it (``loadkit.runtime.gate``).
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent

from loadkit.core.defaults import HISTORY, PREVIOUS
from loadkit.core.options import usage_error
from loadkit.core.records import CANDIDATE_SUFFIX, Batch
from loadkit.runtime import duet, state
from loadkit.runtime.recorder import Recorder
from loadkit.runtime.timings import CPU_KEY, REPORT_KEY, SETUP_KEY
from loadkit.store.base import labelled
from loadkit.store.opened import StoreRefused, open_store

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

    from loadkit.runtime.state import Kit

FINAL_MESSAGE = "loadkit_final"
LOCAL_FLUSH_SECONDS = 1.0


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
        name, side = duet.side_of(name)
        kit.buffer.add(
            start_time if start_time is not None else time.time() - response_time / 1000,
            request_type,
            name,
            response_time,
            exception is None,
            bool(context and context.get(SETUP_KEY)),
            side,
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
        gevent.spawn(kit.cpu_peak.run, lambda: kit.recorder)
        return
    if not isinstance(runner, MasterRunner | LocalRunner) or environment.parsed_options is None:
        return
    options = environment.parsed_options
    if not (options.results_db or options.results_url):  # --results-db '': recording is off
        return
    if (options.run_label or "").endswith(CANDIDATE_SUFFIX):
        usage_error(f"--run-label: a label ending in {CANDIDATE_SUFFIX!r} names a duet's side")
    which = "--results-url" if options.results_url else "--results-db"
    try:
        store = open_store(
            options.results_db,
            options.results_url,
            options.results_token_file,
            folder=Path(options.results_db).parent,
            wait=options.results_wait,
            write=True,
        )
    except StoreRefused as error:
        usage_error(f"{which}: {error}")
    if (
        options.baseline not in ("", PREVIOUS, HISTORY)
        and labelled(store, options.baseline) is None
    ):
        usage_error(f"--baseline: no run labelled {options.baseline!r} in {store.where}")
    kit.recorder = Recorder(store, kit.pacing, kit.buffer)
    events.worker_report.add_listener(lambda client_id, data, **_: _received(kit, client_id, data))
    events.spawning_complete.add_listener(lambda **_: _spawned(kit))
    gevent.spawn(kit.cpu_peak.run, lambda: kit.recorder)
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
            "candidate_host": getattr(options, "candidate_host", "") or None,
            "monitor_tag": getattr(options, "monitor_tag", "") or None,
        },
    )


def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    start_run(environment)


def _spawned(kit: Kit) -> None:
    recorder = kit.recorder
    if recorder is not None and recorder.run_id is not None and recorder.spawned_at is None:
        recorder.spawned()

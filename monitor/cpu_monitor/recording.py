"""A recording: a new run in the service, a sample every interval until Ctrl-C (or
--duration), the lines and warnings printed on the way, and the report at the end.

Sampling, delivery and reporting stay apart: the Sampler reads the machine, the Sender
delivers from its own thread (and the spool keeps what it could not), and the Recorder
keeps the figures, the threshold watches and the display in step with the samples.
"""

import argparse
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from cpu_monitor.api import ApiClient, ApiError
from cpu_monitor.login import MonitorError, connect
from cpu_monitor.report import FigureStats, Report, RunStats, TimeAbove, bytes_text
from cpu_monitor.sampler import ProcessTree, Reading, Sampler, find_process
from cpu_monitor.schedule import Ticker
from cpu_monitor.sender import MAX_DELAY, Sender
from cpu_monitor.spool import Spool, write_spool
from cpu_monitor.watch import MEMORY, Display, ThresholdWatch

CPU_DASHBOARD = "loadwatch-cpu-runs/cpu-runs"  # the uid and slug in grafana/
FLUSH_SECONDS = 10.0
EXIT_UNDELIVERED = 3


def effective_batch_size(batch_size: int, interval: float) -> int:
    """Fewer samples per POST when the interval is long, so none waits over ~10 s."""
    return max(1, min(batch_size, int(MAX_DELAY // interval)))


def dashboard_link(grafana: str, run_id: str, start: datetime, end: datetime) -> str | None:
    """The CPU runs dashboard, showing this run over its own time window."""
    if not grafana:
        return None
    window = f"from={int(start.timestamp() * 1000)}&to={int(end.timestamp() * 1000) + 5000}"
    return f"{grafana.rstrip('/')}/d/{CPU_DASHBOARD}?var-run_id={run_id}&var-run={run_id}&{window}"


def _stop_on_signals(stop: threading.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop``. The handler runs on the main thread between two
    bytecodes, possibly while that thread holds the event's own lock inside ``stop.wait``:
    setting the event there would wait for itself forever. A thread of its own sets it
    as soon as the main thread lets go."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=stop.set, name="cpu-monitor-stop", daemon=True).start()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _process_tree(args: argparse.Namespace) -> ProcessTree | None:
    if args.pid is None and args.process is None:
        return None
    roots = find_process(args.pid, args.process)
    if not roots:
        what = f"process {args.pid}" if args.pid is not None else f"process called {args.process!r}"
        raise MonitorError(f"no {what} is running")
    return ProcessTree(roots)


def _more(figures: dict[str, float]) -> str:
    """The printed line's other figures: memory and the watched process, when recorded."""
    parts = []
    if "memory_used_percent" in figures:
        parts.append(f"memory {figures['memory_used_percent']:.1f}%")
    if "process_cpu_percent" in figures:
        parts.append(
            f"process {figures['process_cpu_percent']:.1f}% "
            f"{bytes_text(figures['process_rss_bytes'])}"
        )
    return "  ".join(parts)


def _what_is_recorded(args: argparse.Namespace, process: ProcessTree | None) -> str:
    what = ["CPU", *(group.replace("cpu-split", "CPU split") for group in args.groups)]
    recorded = ", ".join(what[:-1]) + f" and {what[-1]}" if len(what) > 1 else "CPU"
    if process is None:
        return recorded + f" of {args.host}"
    pids = ", ".join(str(p.pid) for p in process.roots)
    return recorded + f" of {args.host}, and of process {pids} with its children,"


class Recorder:
    """What each sample feeds besides its delivery: the run's figures, the threshold
    watches (whose crossings become warnings and run events) and the printed lines."""

    def __init__(self, args: argparse.Namespace, sender: Sender, started: float) -> None:
        self.args = args
        self.sender = sender
        self.stats = RunStats(args.threshold)
        self.figures = FigureStats()
        self.watches = [(ThresholdWatch(args.threshold), "cpu_percent")]
        self.memory: TimeAbove | None = None  # its values are in figures already
        if args.mem_threshold is not None:
            self.memory = TimeAbove(args.mem_threshold)
            self.watches.append((ThresholdWatch(args.mem_threshold, MEMORY), "memory_used_percent"))
        self.display = Display(args.display_interval, started=started)
        self.taken = 0

    def say(self, line: str) -> None:
        if not self.args.quiet:
            print(line, flush=True)

    def take(self, seq: int, due: float, reading: Reading) -> None:
        wall = datetime.now(UTC)
        cpu = round(reading.cpu_percent, 2)  # what is stored, so the report and API agree
        sample: dict[str, Any] = {"seq": seq, "timestamp": wall.isoformat(), "cpu_percent": cpu}
        if reading.per_cpu is not None:
            sample["per_cpu"] = reading.per_cpu
        sample.update(reading.figures)
        self.sender.add(sample)
        self.taken += 1
        self.stats.add(due, cpu)
        self.figures.add(reading.figures)
        if self.memory is not None and "memory_used_percent" in reading.figures:
            self.memory.add(due, reading.figures["memory_used_percent"])
        for watch, field in self.watches:
            if field in sample:
                crossing = watch.update(due, wall, sample[field])
                if crossing is not None:
                    self.say(crossing.message())
                    self.sender.add_event(crossing.event())
        line = self.display.update(due, wall, cpu, _more(reading.figures))
        if line:
            self.say(line)

    def close(self, ended: float) -> None:
        self.stats.close(ended)
        if self.memory is not None:
            self.memory.close(ended)


def _spool(
    args: argparse.Namespace,
    url: str,
    run_id: str,
    samples: list[dict[str, Any]],
    events: list[dict[str, Any]],
) -> Path:
    path = Path(args.spool_dir) / f"cpu-monitor-{run_id}.jsonl"
    spool = Spool(
        url=url,
        run_id=run_id,
        status="finished",
        samples=samples,
        events=events,
        name=args.name,
        host=args.host,
        threshold=args.threshold,
    )
    try:
        write_spool(path, spool)
    except OSError as error:
        raise MonitorError(f"cannot write the spool file {path}: {error.strerror}") from None
    return path


def _deliver_the_rest(
    args: argparse.Namespace, url: str, client: ApiClient, run_id: str, sender: Sender
) -> tuple[Path | None, int, int]:
    """Flush, then finish the run; what could not be delivered goes to a spool file.
    Returns the spool's path (None: all delivered) and the samples and events left."""
    left, left_events = sender.close(FLUSH_SECONDS)
    if left or left_events:
        return _spool(args, url, run_id, left, left_events), len(left), len(left_events)
    try:
        client.end_run(run_id, "finished")
    except ApiError as error:
        print(f"cpu-monitor: warning: could not finish the run: {error}", file=sys.stderr)
        return _spool(args, url, run_id, [], []), 0, 0
    return None, 0, 0


def record(args: argparse.Namespace, url: str) -> int:
    """Record until stopped; the exit code: 0, or EXIT_UNDELIVERED with a spool file."""
    process = _process_tree(args)
    client = connect(url, args)
    name = args.name or f"{args.host} {datetime.now():%Y-%m-%d %H:%M:%S}"
    try:
        run = client.create_run(name, args.host, args.threshold, args.tag)
    except ApiError as error:
        raise MonitorError(f"cannot create the run: {error}") from None
    run_id = str(run["id"])
    # Handled before the first line, so a Ctrl-C after it always gets the report.
    stop = threading.Event()
    _stop_on_signals(stop)
    print(
        f"Recording the {_what_is_recorded(args, process)} every {args.interval:g} s as run "
        f"{run_id} ({name}) at {url}. Stop with Ctrl-C.",
        flush=True,
    )
    sampler = Sampler(per_cpu=args.per_cpu, groups=args.groups, process=process)
    sender = Sender(client, run_id, effective_batch_size(args.batch_size, args.interval))
    sender.start()
    ticker = Ticker(args.interval, stop)
    started, started_wall = time.monotonic(), datetime.now(UTC)
    ticker.start = started
    recorder = Recorder(args, sender, started)
    for k, due in ticker:
        recorder.take(k - 1, due, sampler.read())
        if args.duration is not None and due - started >= args.duration - 1e-6:
            break
    ended = time.monotonic()
    recorder.close(ended)
    recorder.say(
        f"Stopping: delivering {sender.pending()} buffered samples (up to {FLUSH_SECONDS:g} s)"
    )
    spool_path, undelivered, events_undelivered = _deliver_the_rest(
        args, url, client, run_id, sender
    )
    client.close()
    report = Report(
        run_id=run_id,
        name=name,
        seconds=ended - started,
        stats=recorder.stats,
        taken=recorder.taken,
        sent=sender.samples.delivered,
        undelivered=undelivered,
        events_sent=sender.events.delivered,
        events_undelivered=events_undelivered,
        spool_path=str(spool_path) if spool_path else None,
        dashboard_url=dashboard_link(args.grafana_url, run_id, started_wall, datetime.now(UTC)),
        figures=recorder.figures,
        memory=recorder.memory,
    )
    print("\n".join(report.lines()), flush=True)
    return EXIT_UNDELIVERED if spool_path else 0

"""`cpu-monitor`: options (each also read from a CPU_MONITOR_* variable), then the run."""

import argparse
import getpass
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from cpu_monitor import __version__
from cpu_monitor.api import ApiClient, ApiError, Unreachable
from cpu_monitor.report import FigureStats, Report, RunStats, TimeAbove, bytes_text
from cpu_monitor.sampler import GROUPS, ProcessTree, Sampler, find_process
from cpu_monitor.schedule import Ticker
from cpu_monitor.sender import MAX_BATCH, MAX_DELAY, Sender
from cpu_monitor.spool import Spool, SpoolError, read_spool, write_spool
from cpu_monitor.watch import MEMORY, Display, ThresholdWatch

DEFAULT_URL = "http://localhost:8000"
CPU_DASHBOARD = "loadwatch-cpu-runs/cpu-runs"  # the uid and slug in grafana/
FLUSH_SECONDS = 10.0
EXIT_ERROR, EXIT_USAGE, EXIT_UNDELIVERED = 1, 2, 3


class MonitorError(Exception):
    """A failure to report in one line, with exit code 1."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in --help (after CPU_MONITOR_* variables), except a secret's
    and an unset one's: a password from the environment must never be printed."""

    SECRET = frozenset({"password", "token"})

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.dest in self.SECRET or action.default in (None, False):
            return action.help
        if action.help and "default" in action.help:
            return action.help  # the help says it in words already
        return super()._get_help_string(action)


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"CPU_MONITOR_{name}", default)


def _env_flag(name: str) -> bool:
    return (_env(name) or "").strip().lower() in ("1", "true", "yes", "on")


def build_parser() -> Parser:
    parser = Parser(
        prog="cpu-monitor",
        formatter_class=HelpFormatter,
        description="Record this machine's CPU (and memory, load, disk and network, and "
        "optionally one process tree) into a loadwatch service as a new test run. "
        "Every option can also be set through the CPU_MONITOR_<OPTION> variable "
        "(for example CPU_MONITOR_PASSWORD). Ctrl-C or SIGTERM stops and prints the report.",
    )
    add = parser.add_argument
    add("--version", action="version", version=f"%(prog)s {__version__}")
    add("--url", default=_env("URL"), help=f"the service (default {DEFAULT_URL})")
    add("--username", default=_env("USERNAME"), help="login name")
    add(
        "--password",
        default=_env("PASSWORD"),
        help="better set CPU_MONITOR_PASSWORD; prompted for (not echoed) when neither is given",
    )
    add(
        "--token",
        default=_env("TOKEN"),
        help="an API token (POST /auth/tokens) instead of username and password; better set "
        "CPU_MONITOR_TOKEN",
    )
    add("--name", default=_env("NAME"), help="run name (default: host and start time)")
    add(
        "--host",
        default=_env("HOST", socket.gethostname()),
        help="host label of the run (default: this machine's name)",
    )
    add("--interval", type=float, default=_env("INTERVAL", "1"), help="seconds between samples")
    add(
        "--display-interval",
        type=float,
        default=_env("DISPLAY_INTERVAL", "5"),
        help="seconds between printed lines",
    )
    add(
        "--threshold",
        type=float,
        default=_env("THRESHOLD", "80"),
        help="CPU percent above which to warn (0-100)",
    )
    add(
        "--collect",
        default=_env("COLLECT", "all"),
        help=f"what to record besides the total CPU: 'all', 'none', or a comma list of "
        f"{', '.join(GROUPS)}",
    )
    watched = parser.add_mutually_exclusive_group()
    watched.add_argument(
        "--pid",
        type=int,
        default=_env("PID"),
        help="also record the CPU (percent of one core) and memory of this process and its "
        "children",
    )
    watched.add_argument(
        "--process",
        metavar="NAME",
        default=_env("PROCESS"),
        help="the same for the processes called NAME (by name or program file name)",
    )
    add(
        "--mem-threshold",
        type=float,
        default=_env("MEM_THRESHOLD"),
        help="memory used percent above which to warn (0-100; default: no warning)",
    )
    add(
        "--per-cpu",
        action="store_true",
        default=_env_flag("PER_CPU"),
        help="also record each core's value",
    )
    add(
        "--batch-size",
        type=int,
        default=_env("BATCH_SIZE", "10"),
        help="samples per POST; fewer when the interval is long",
    )
    add(
        "--duration",
        type=float,
        default=_env("DURATION"),
        help="stop by itself after this many seconds",
    )
    add(
        "--spool-dir",
        type=Path,
        default=_env("SPOOL_DIR", "."),
        help="where undelivered samples are written at exit",
    )
    add(
        "--grafana-url",
        default=_env("GRAFANA_URL", "http://localhost:3000"),
        help="Grafana, for the report's link to this run ('' for none)",
    )
    add(
        "--quiet",
        action="store_true",
        default=_env_flag("QUIET"),
        help="print only the report and errors",
    )
    add("--resend", type=Path, metavar="FILE", help="deliver a spool file, finish its run, exit")
    add(
        "--new-run",
        action="store_true",
        help="with --resend: deliver into a new run (when the service no longer has the "
        "original, e.g. after a restart on its embedded database)",
    )
    return parser


def _validate(parser: Parser, args: argparse.Namespace) -> None:
    if args.url is not None:
        parts = urlsplit(args.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            parser.error(f"bad URL {args.url!r}: expected http://host[:port]")
        try:
            parts.port  # noqa: B018 - a malformed port raises here
        except ValueError:
            parser.error(f"bad URL {args.url!r}: the port is not a number")
    if not 0 <= args.threshold <= 100:
        parser.error(f"--threshold must be within 0-100, not {args.threshold:g}")
    args.groups = _groups(parser, args.collect)
    if args.mem_threshold is not None:
        if not 0 <= args.mem_threshold <= 100:
            parser.error(f"--mem-threshold must be within 0-100, not {args.mem_threshold:g}")
        if "memory" not in args.groups:
            parser.error("--mem-threshold needs memory in --collect")
    if args.pid is not None and args.pid <= 0:
        parser.error(f"--pid must be a process id, not {args.pid}")
    if not args.interval > 0:
        parser.error(f"--interval must be > 0, not {args.interval:g}")
    if not args.display_interval > 0:
        parser.error(f"--display-interval must be > 0, not {args.display_interval:g}")
    if not 1 <= args.batch_size <= 1000:
        parser.error(f"--batch-size must be within 1-1000, not {args.batch_size}")
    if args.new_run and args.resend is None:
        parser.error("--new-run goes with --resend FILE")
    if args.duration is not None and not args.duration > 0:
        parser.error(f"--duration must be > 0, not {args.duration:g}")


def _groups(parser: Parser, collect: str) -> tuple[str, ...]:
    words = [word.strip() for word in collect.split(",") if word.strip()]
    if words == ["all"]:
        return GROUPS
    if words == ["none"]:
        return ()
    unknown = [word for word in words if word not in GROUPS]
    if unknown or not words:
        parser.error(
            f"--collect: unknown {', '.join(unknown) or 'empty list'}; expected all, none or "
            f"a comma list of {', '.join(GROUPS)}"
        )
    return tuple(words)


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    username, password = args.username, args.password
    interactive = sys.stdin.isatty()
    if not username:
        if not interactive:
            raise MonitorError("no username: pass --username or set CPU_MONITOR_USERNAME")
        username = input("Username: ").strip()
    if not password:
        if not interactive:
            raise MonitorError("no password: set CPU_MONITOR_PASSWORD")
        password = getpass.getpass("Password: ")
    return username, password


def _connect(url: str, args: argparse.Namespace) -> ApiClient:
    """A client logged in with the token, or with the username and password."""
    if args.token:
        client, who = ApiClient(url, token=args.token), "the API token"
    else:
        username, password = _credentials(args)
        client, who = ApiClient(url, username, password), repr(username)
    try:
        client.login()
    except Unreachable:
        raise MonitorError(f"cannot reach the service at {url}") from None
    except ApiError as error:
        if error.status == 401:
            raise MonitorError(f"login failed for {who}: {error}") from None
        raise MonitorError(f"login failed ({error.status}): {error}") from None
    return client


def effective_batch_size(batch_size: int, interval: float) -> int:
    """Fewer samples per POST when the interval is long, so none waits over ~10 s."""
    return max(1, min(batch_size, int(MAX_DELAY // interval)))


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

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


def monitor(args: argparse.Namespace, url: str) -> int:
    process = _process_tree(args)
    client = _connect(url, args)
    name = args.name or f"{args.host} {datetime.now():%Y-%m-%d %H:%M:%S}"
    try:
        run = client.create_run(name, args.host, args.threshold)
    except ApiError as error:
        raise MonitorError(f"cannot create the run: {error}") from None
    run_id = str(run["id"])

    def say(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    # Handled before the first line, so a Ctrl-C after it always gets the report.
    stop = threading.Event()
    _stop_on_signals(stop)
    what = ["CPU", *(group.replace("cpu-split", "CPU split") for group in args.groups)]
    recorded = ", ".join(what[:-1]) + f" and {what[-1]}" if len(what) > 1 else "CPU"
    if process is not None:
        pids = ", ".join(str(p.pid) for p in process.roots)
        recorded += f" of {args.host}, and of process {pids} with its children,"
    else:
        recorded += f" of {args.host}"
    print(
        f"Recording the {recorded} every {args.interval:g} s as run {run_id} "
        f"({name}) at {url}. Stop with Ctrl-C.",
        flush=True,
    )
    sampler = Sampler(per_cpu=args.per_cpu, groups=args.groups, process=process)
    sender = Sender(client, run_id, effective_batch_size(args.batch_size, args.interval))
    sender.start()
    ticker = Ticker(args.interval, stop)
    stats = RunStats(args.threshold)
    figures = FigureStats()
    watches = [(ThresholdWatch(args.threshold), "cpu_percent")]
    memory: TimeAbove | None = None  # its values are in figures already
    if args.mem_threshold is not None:
        memory = TimeAbove(args.mem_threshold)
        watches.append((ThresholdWatch(args.mem_threshold, MEMORY), "memory_used_percent"))
    started = time.monotonic()
    started_wall = datetime.now(UTC)
    ticker.start = started
    display = Display(args.display_interval, started=started)
    taken = 0
    for k, due in ticker:
        reading = sampler.read()
        wall = datetime.now(UTC)
        cpu = round(reading.cpu_percent, 2)  # what is stored, so the report and API agree
        sample: dict[str, Any] = {"seq": k - 1, "timestamp": wall.isoformat(), "cpu_percent": cpu}
        if reading.per_cpu is not None:
            sample["per_cpu"] = reading.per_cpu
        sample.update(reading.figures)
        sender.add(sample)
        taken += 1
        stats.add(due, cpu)
        figures.add(reading.figures)
        if memory is not None and "memory_used_percent" in reading.figures:
            memory.add(due, reading.figures["memory_used_percent"])
        for watch, field in watches:
            if field in sample:
                crossing = watch.update(due, wall, sample[field])
                if crossing is not None:
                    say(crossing.message())
                    sender.add_event(crossing.event())
        line = display.update(due, wall, cpu, _more(reading.figures))
        if line:
            say(line)
        if args.duration is not None and due - started >= args.duration - 1e-6:
            break

    ended = time.monotonic()
    stats.close(ended)
    if memory is not None:
        memory.close(ended)
    say(f"Stopping: delivering {sender.pending()} buffered samples (up to {FLUSH_SECONDS:g} s)")
    left, left_events = sender.close(FLUSH_SECONDS)
    spool_path: Path | None = None
    if not left and not left_events:
        try:
            client.end_run(run_id, "finished")
        except ApiError as error:
            print(f"cpu-monitor: warning: could not finish the run: {error}", file=sys.stderr)
            spool_path = _spool(args, url, run_id, [], [])
    else:
        spool_path = _spool(args, url, run_id, left, left_events)
    client.close()
    report = Report(
        run_id=run_id,
        name=name,
        seconds=ended - started,
        stats=stats,
        taken=taken,
        sent=sender.samples.delivered,
        undelivered=len(left),
        events_sent=sender.events.delivered,
        events_undelivered=len(left_events),
        spool_path=str(spool_path) if spool_path else None,
        dashboard_url=dashboard_link(args.grafana_url, run_id, started_wall, datetime.now(UTC)),
        figures=figures,
        memory=memory,
    )
    print("\n".join(report.lines()), flush=True)
    return EXIT_UNDELIVERED if spool_path else 0


def dashboard_link(grafana: str, run_id: str, start: datetime, end: datetime) -> str | None:
    """The CPU runs dashboard, showing this run over its own time window."""
    if not grafana:
        return None
    window = f"from={int(start.timestamp() * 1000)}&to={int(end.timestamp() * 1000) + 5000}"
    return f"{grafana.rstrip('/')}/d/{CPU_DASHBOARD}?var-run_id={run_id}&var-run={run_id}&{window}"


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


T = TypeVar("T")


def _with_retries(call: Callable[[], T], failure: str) -> T:
    """A call to the service, tried 4 times over ~7 s while it is unreachable."""
    for attempt in range(4):
        try:
            return call()
        except ApiError as error:
            if not error.retryable or attempt == 3:
                raise MonitorError(f"{failure}: {error}") from None
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def _batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Posts the size the sender makes while it catches up, which the service takes."""
    for start in range(0, len(items), MAX_BATCH):
        yield items[start : start + MAX_BATCH]


def _new_run_for(client: ApiClient, spool: Spool, args: argparse.Namespace) -> str:
    """A new run like the spool's, with a note saying where its samples come from."""
    name = f"{spool.name or spool.host or 'cpu-monitor'} (resent)"
    try:
        run = client.create_run(name, spool.host or args.host, spool.threshold or args.threshold)
    except ApiError as error:
        raise MonitorError(f"cannot create the new run: {error}") from None
    first = min((s["timestamp"] for s in spool.samples), default=datetime.now(UTC).isoformat())
    note = {
        "category": "note",
        "name": "note",
        "timestamp": first,
        "data": {
            "text": f"Resent from {args.resend.name}: these samples were recorded as run "
            f"{spool.run_id} at {spool.url}, which the service no longer had."
        },
    }
    _with_retries(partial(client.post_events, run["id"], [note]), "could not add the note")
    return str(run["id"])


def resend(args: argparse.Namespace) -> int:
    try:
        spool = read_spool(args.resend)
    except SpoolError as error:
        raise MonitorError(str(error)) from None
    url = args.url or spool.url
    client = _connect(url, args)
    run_id = _new_run_for(client, spool, args) if args.new_run else spool.run_id
    delivered = duplicates = 0
    try:
        for batch in _batches(spool.samples):
            accepted, dup = _with_retries(
                partial(client.post_samples, run_id, batch),
                f"could not deliver {args.resend} ({delivered} of {len(spool.samples)} delivered)",
            )
            delivered += accepted + dup
            duplicates += dup
    except MonitorError as error:
        if "Run not found" in str(error) and not args.new_run:
            raise MonitorError(
                f"{error}: the service at {url} no longer has run {run_id} (restarted on its "
                f"embedded database?). Deliver into a new run: cpu-monitor --resend "
                f"{args.resend} --new-run"
            ) from None
        raise
    for batch in _batches(spool.events):
        _with_retries(
            partial(client.post_events, run_id, batch),
            f"delivered the samples of {args.resend}, but not its events",
        )
    try:
        client.end_run(run_id, spool.status)
    except ApiError as error:
        if error.status != 409:  # 409: the run had already ended
            raise MonitorError(
                f"delivered the samples, but could not end the run: {error}"
            ) from None
    client.close()
    args.resend.unlink()
    into = f"the new run {run_id} (was {spool.run_id})" if args.new_run else f"run {run_id}"
    print(
        f"Delivered {delivered} samples and {len(spool.events)} events to {into} "
        f"({duplicates} samples were already stored); the run is {spool.status}. "
        f"Removed {args.resend}."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    logging.basicConfig(level=logging.WARNING, format="cpu-monitor: %(message)s")
    try:
        if args.resend is not None:
            return resend(args)
        return monitor(args, args.url or DEFAULT_URL)
    except MonitorError as error:
        print(f"cpu-monitor: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # before the run started: nothing to report
        print("cpu-monitor: interrupted", file=sys.stderr)
        return 130

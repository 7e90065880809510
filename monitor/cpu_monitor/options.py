"""cpu-monitor's options. Each one can also be set through its ``CPU_MONITOR_<OPTION>``
variable, read in one place (``option``), so that --help shows the value in force."""

import argparse
import os
import socket
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from cpu_monitor import __version__
from cpu_monitor.sampler import GROUPS

DEFAULT_URL = "http://localhost:8000"
EXIT_USAGE = 2
ENV_PREFIX = "CPU_MONITOR_"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


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


def option(
    group: argparse._ActionsContainer,
    flag: str,
    default: Any = None,
    *,
    from_env: bool = True,
    **kwargs: Any,
) -> None:
    """Add ``--flag``; its default is ``CPU_MONITOR_FLAG`` when that is set, else ``default``.
    A switch (``action="store_true"``) is on when the variable says 1, true, yes or on."""
    variable = ENV_PREFIX + flag.removeprefix("--").replace("-", "_").upper()
    value = os.environ.get(variable) if from_env else None
    if kwargs.get("action") == "store_true":
        default = value is not None and value.strip().lower() in TRUE_WORDS
    elif value is not None:
        default = value
    group.add_argument(flag, default=default, **kwargs)


def build_parser() -> Parser:
    parser = Parser(
        prog="cpu-monitor",
        formatter_class=HelpFormatter,
        description="Record this machine's CPU (and memory, load, disk and network, and "
        "optionally one process tree) into a loadwatch service as a new test run. "
        "Every option can also be set through the CPU_MONITOR_<OPTION> variable "
        "(for example CPU_MONITOR_PASSWORD). Ctrl-C or SIGTERM stops and prints the report.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    option(parser, "--url", help=f"the service (default {DEFAULT_URL})")
    option(parser, "--username", help="login name")
    option(
        parser,
        "--password",
        help="better set CPU_MONITOR_PASSWORD; prompted for (not echoed) when neither is given",
    )
    option(
        parser,
        "--token",
        help='an API token with the write scope (POST /auth/tokens {"scope": "write"}) '
        "instead of username and password; better set CPU_MONITOR_TOKEN",
    )
    option(parser, "--name", help="run name (default: host and start time)")
    option(
        parser,
        "--tag",
        help="a tag of the run besides cpu-monitor, e.g. the --monitor-tag a load test gives "
        "loadkit, so that its verdict shows this machine's CPU",
    )
    option(
        parser,
        "--host",
        socket.gethostname(),
        help="host label of the run (default: this machine's name)",
    )
    option(parser, "--interval", "1", type=float, help="seconds between samples")
    option(parser, "--display-interval", "5", type=float, help="seconds between printed lines")
    option(parser, "--threshold", "80", type=float, help="CPU percent above which to warn (0-100)")
    option(
        parser,
        "--collect",
        "all",
        help=f"what to record besides the total CPU: 'all', 'none', or a comma list of "
        f"{', '.join(GROUPS)}",
    )
    watched = parser.add_mutually_exclusive_group()
    option(
        watched,
        "--pid",
        type=int,
        help="also record the CPU (percent of one core) and memory of this process and its "
        "children",
    )
    option(
        watched,
        "--process",
        metavar="NAME",
        help="the same for the processes called NAME (by name or program file name)",
    )
    option(
        parser,
        "--mem-threshold",
        type=float,
        help="memory used percent above which to warn (0-100; default: no warning)",
    )
    option(parser, "--per-cpu", action="store_true", help="also record each core's value")
    option(
        parser,
        "--batch-size",
        "10",
        type=int,
        help="samples per POST; fewer when the interval is long",
    )
    option(parser, "--duration", type=float, help="stop by itself after this many seconds")
    option(
        parser,
        "--spool-dir",
        ".",
        type=Path,
        help="where undelivered samples are written at exit",
    )
    option(
        parser,
        "--grafana-url",
        "http://localhost:3000",
        help="Grafana, for the report's link to this run ('' for none)",
    )
    option(parser, "--quiet", action="store_true", help="print only the report and errors")
    option(
        parser,
        "--resend",
        from_env=False,
        type=Path,
        metavar="FILE",
        help="deliver a spool file, finish its run, exit",
    )
    option(
        parser,
        "--new-run",
        from_env=False,
        action="store_true",
        help="with --resend: deliver into a new run (when the service no longer has the "
        "original, e.g. after a restart on its embedded database)",
    )
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked: a bad one is one error line and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    return args


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

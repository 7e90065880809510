"""`cpu-monitor`: read the options, then record (or resend a spool file), and turn every
failure into one line and an exit code."""

import logging
import sys
from collections.abc import Sequence

from cpu_monitor.login import MonitorError
from cpu_monitor.options import DEFAULT_URL, parse
from cpu_monitor.recording import record
from cpu_monitor.resending import resend

EXIT_ERROR = 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.WARNING, format="cpu-monitor: %(message)s")
    try:
        if args.resend is not None:
            return resend(args)
        return record(args, args.url or DEFAULT_URL)
    except MonitorError as error:
        print(f"cpu-monitor: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # before the run started: nothing to report
        print("cpu-monitor: interrupted", file=sys.stderr)
        return 130

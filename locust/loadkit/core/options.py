"""argparse types of loadkit's options, shared by the Locust plugin and `loadwatch-compare`:
a bad value is a usage error at parse time, never a traceback once the test runs; and
``usage_error``, the one way to refuse a setting that can only be checked after parsing. A module
of its own with no heavy imports: declaring the options must not load numpy."""

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from loadkit.core.defaults import MIN_CHANGE

QUANTILE_NAMES = tuple(MIN_CHANGE)
MIN_CHANGE_HELP = (
    "smallest relative change that counts, for every quantile (0.1) or per quantile "
    "(p50=0.1,p95=0.15,p99=0.2); default: none where 3 or more earlier comparable runs "
    "measure the run-to-run noise (it is in the interval), else "
    + ",".join(f"{name}={value:g}" for name, value in MIN_CHANGE.items())
)


def _number(text: str, rule: str, ok: Callable[[float], bool], name: str = "") -> float:
    """``text`` as a finite number that ``ok`` accepts; a usage error naming ``rule``."""
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(number) and ok(number)):
        raise argparse.ArgumentTypeError(f"{name}{' ' if name else ''}must be {rule}, not {text}")
    return number


def min_change(text: str) -> dict[str, float]:
    """``0.1`` (every quantile) or ``p50=0.1,p99=0.3`` (those named; the rest keep their
    defaults). An argparse type: a bad value is a usage error, not a traceback."""
    result = dict(MIN_CHANGE)
    if "=" not in text:
        pairs = [(name, text) for name in QUANTILE_NAMES]
    else:
        pairs = [tuple(part.split("=", 1)) for part in text.split(",")]  # type: ignore[misc]
    for name, value in pairs:
        name = name.strip()
        if name not in result:
            raise argparse.ArgumentTypeError(f"unknown quantile {name!r}: p50, p95 or p99")
        result[name] = _number(value, "a fraction in [0, 1)", lambda x: 0 <= x < 1, name)
    return result


def usage_error(message: str) -> NoReturn:
    """A bad setting found after parsing: one line, and exit 2, before any test starts (as
    Locust's own bad options do)."""
    print(f"loadkit: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def alpha(text: str) -> float:
    return _number(text, "between 0 and 1", lambda x: 0 < x < 1)


def runs_count(text: str) -> int:
    """A number of runs, 2 or more (a history of one run has nothing to say)."""
    number = _number(text, "a whole number of runs, 2 or more", lambda x: x >= 2 and x == int(x))
    return int(number)


def _positive(unit: str) -> Callable[[str], float]:
    """An argparse type: a number of ``unit`` above 0."""
    return lambda text: _number(text, f"a number of {unit} > 0", lambda x: x > 0)


positive_seconds = _positive("seconds")
positive_hours = _positive("hours")

"""argparse types of loadkit's options, shared by the Locust plugin and `loadwatch-compare`:
a bad value is a usage error at parse time, never a traceback once the test runs. A module
of its own with no heavy imports: declaring the options must not load numpy."""

import argparse
import math

from loadkit.defaults import MIN_CHANGE

QUANTILE_NAMES = tuple(MIN_CHANGE)
MIN_CHANGE_HELP = (
    "smallest relative change that counts, for every quantile (0.1) or per quantile "
    "(p50=0.1,p95=0.15,p99=0.2); default "
    + ",".join(f"{name}={value:g}" for name, value in MIN_CHANGE.items())
)


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
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if not (math.isfinite(number) and 0 <= number < 1):
            raise argparse.ArgumentTypeError(f"{name} must be a fraction in [0, 1), not {value}")
        result[name] = number
    return result


def alpha(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return number


def positive_seconds(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, not {text}")
    return number

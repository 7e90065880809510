"""Figures of a monitoring session, and the report printed at the end."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks, as the service computes it."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass
class TimeAbove:
    """The time a figure spends above a threshold: a sample above it counts the time until
    the next one (equal to the threshold is not above it)."""

    threshold: float
    seconds_above: float = 0.0
    _previous: tuple[float, float] | None = None  # (monotonic time, value)

    def add(self, at: float, value: float) -> None:
        if self._previous is not None and self._previous[1] > self.threshold:
            self.seconds_above += at - self._previous[0]
        self._previous = (at, value)

    def close(self, at: float) -> None:
        """At the end, the last sample above the threshold counts until now."""
        if self._previous is not None and self._previous[1] > self.threshold:
            self.seconds_above += max(at - self._previous[0], 0.0)
        self._previous = None


@dataclass
class RunStats(TimeAbove):
    """The CPU samples, for their average, maximum and p95, and their time above the
    threshold."""

    # 8 bytes a value (a list would hold a float object each): a day at 1 s stays small.
    values: array[float] = field(default_factory=lambda: array("d"))

    def add(self, at: float, value: float) -> None:
        super().add(at, value)
        self.values.append(value)

    @property
    def average(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None

    @property
    def maximum(self) -> float | None:
        return max(self.values) if self.values else None

    @property
    def p95(self) -> float | None:
        return percentile(sorted(self.values), 0.95) if self.values else None


# Each optional figure of a sample: its label in the report, and how its values read.
FIGURES: dict[str, tuple[str, str]] = {
    "cpu_user_percent": ("CPU user", "percent"),
    "cpu_system_percent": ("CPU system", "percent"),
    "cpu_iowait_percent": ("CPU iowait", "percent"),
    "cpu_steal_percent": ("CPU steal", "percent"),
    "memory_used_percent": ("memory used", "percent"),
    "memory_available_bytes": ("memory available", "bytes"),
    "swap_used_percent": ("swap used", "percent"),
    "load_1m": ("load 1m", "number"),
    "disk_read_bytes_per_second": ("disk read", "rate"),
    "disk_write_bytes_per_second": ("disk write", "rate"),
    "network_receive_bytes_per_second": ("network received", "rate"),
    "network_transmit_bytes_per_second": ("network sent", "rate"),
    "process_cpu_percent": ("process CPU (of one core)", "percent"),
    "process_rss_bytes": ("process memory (RSS)", "bytes"),
}


def bytes_text(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def figure_text(name: str, value: float) -> str:
    kind = FIGURES[name][1]
    if kind == "percent":
        return f"{value:.1f}%"
    if kind == "bytes":
        return bytes_text(value)
    if kind == "rate":
        return f"{bytes_text(value)}/s"
    return f"{value:.2f}"


@dataclass
class FigureStats:
    """The values of each optional figure, for its average, p95 and maximum."""

    values: dict[str, array[float]] = field(default_factory=dict)

    def add(self, figures: dict[str, float]) -> None:
        for name, value in figures.items():
            found = self.values.get(name)
            if found is None:
                found = self.values[name] = array("d")
            found.append(value)

    def lines(self) -> list[tuple[str, str]]:
        rows = []
        for name in FIGURES:
            found = self.values.get(name)
            if not found:
                continue
            ordered = sorted(found)
            figures = (sum(ordered) / len(ordered), percentile(ordered, 0.95), ordered[-1])
            rows.append(
                (
                    FIGURES[name][0],
                    "  ".join(
                        f"{what} {figure_text(name, v)}"
                        for what, v in zip(("avg", "p95", "max"), figures, strict=True)
                    ),
                )
            )
        return rows


def duration_text(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


@dataclass
class Report:
    run_id: str
    name: str
    seconds: float
    stats: RunStats
    taken: int
    sent: int
    undelivered: int
    events_sent: int = 0
    events_undelivered: int = 0
    spool_path: str | None = None
    dashboard_url: str | None = None
    figures: FigureStats = field(default_factory=FigureStats)
    memory: TimeAbove | None = None  # with --mem-threshold: memory used %, against it

    def _above(self, label: str, stats: TimeAbove) -> tuple[str, str]:
        share = 100 * stats.seconds_above / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{label}above {stats.threshold:g}%",
            f"~{duration_text(stats.seconds_above)} ({share:.1f}% of the run)",
        )

    def lines(self) -> list[str]:
        rows = [
            ("run", f"{self.run_id} ({self.name})"),
            ("total time", duration_text(self.seconds)),
            self._above("", self.stats),
            ("samples taken", str(self.taken)),
            ("samples sent", str(self.sent)),
            ("samples not delivered", str(self.undelivered)),
            (
                "threshold events sent",
                f"{self.events_sent}"
                + (
                    f" ({self.events_undelivered} not delivered)" if self.events_undelivered else ""
                ),
            ),
            ("CPU average", _percent(self.stats.average)),
            ("CPU maximum", _percent(self.stats.maximum)),
            ("CPU p95", _percent(self.stats.p95)),
            *self.figures.lines(),
        ]
        if self.memory is not None:
            rows.append(self._above("memory ", self.memory))
        if self.spool_path:
            rows.append(
                (
                    "undelivered samples in",
                    f"{self.spool_path} (deliver later: cpu-monitor --resend {self.spool_path})",
                )
            )
        if self.dashboard_url:
            rows.append(("dashboard", self.dashboard_url))
        width = max(len(label) for label, _ in rows) + 2
        return [
            "",
            "cpu-monitor report",
            *(f"  {label + ':':<{width}}{value}" for label, value in rows),
        ]

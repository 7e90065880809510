"""Figures of a monitoring session, and the report printed at the end."""

import math
from dataclasses import dataclass, field


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks, as the service computes it."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass
class RunStats:
    """Accumulates samples; a sample above the threshold counts the time until the next."""

    threshold: float
    values: list[float] = field(default_factory=list)
    seconds_above: float = 0.0
    _previous: tuple[float, float] | None = None  # (monotonic time, value)

    def add(self, at: float, value: float) -> None:
        if self._previous is not None and self._previous[1] > self.threshold:
            self.seconds_above += at - self._previous[0]
        self._previous = (at, value)
        self.values.append(value)

    def close(self, at: float) -> None:
        """At the end, the last sample above the threshold counts until now."""
        if self._previous is not None and self._previous[1] > self.threshold:
            self.seconds_above += max(at - self._previous[0], 0.0)
        self._previous = None

    @property
    def average(self) -> float | None:
        return sum(self.values) / len(self.values) if self.values else None

    @property
    def maximum(self) -> float | None:
        return max(self.values) if self.values else None

    @property
    def p95(self) -> float | None:
        return percentile(sorted(self.values), 0.95) if self.values else None


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

    def lines(self) -> list[str]:
        share = 100 * self.stats.seconds_above / self.seconds if self.seconds > 0 else 0.0
        rows = [
            ("run", f"{self.run_id} ({self.name})"),
            ("total time", duration_text(self.seconds)),
            (
                f"above {self.stats.threshold:g}%",
                f"~{duration_text(self.stats.seconds_above)} ({share:.1f}% of the run)",
            ),
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
        ]
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

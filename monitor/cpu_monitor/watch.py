"""What the monitor prints while it runs: a line per display period, threshold crossings."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cpu_monitor.report import duration_text


@dataclass(frozen=True)
class Crossing:
    """CPU went above the threshold, or came back below it."""

    name: str  # the event name: threshold_exceeded or threshold_cleared
    wall: datetime
    cpu_percent: float
    threshold: float
    seconds_above: float | None = None

    def message(self) -> str:
        if self.seconds_above is None:
            return (
                f"{self.wall:%H:%M:%S}  WARNING  CPU {self.cpu_percent:.1f}% is above the "
                f"threshold {self.threshold:g}%"
            )
        return (
            f"{self.wall:%H:%M:%S}  CPU {self.cpu_percent:.1f}% is back below "
            f"{self.threshold:g}% after {duration_text(self.seconds_above)} above it"
        )

    def event(self) -> dict[str, Any]:
        """The run event the service records for it."""
        data: dict[str, Any] = {"cpu_percent": self.cpu_percent, "threshold": self.threshold}
        if self.seconds_above is not None:
            data["seconds_above"] = round(self.seconds_above, 3)
        return {
            "category": "monitor",
            "name": self.name,
            "timestamp": self.wall.isoformat(),
            "data": data,
        }


@dataclass
class ThresholdWatch:
    """One crossing when CPU goes above the threshold, one when it falls back, not one per
    sample. Equal to the threshold is not above it."""

    threshold: float
    above_since: float | None = None

    def update(self, at: float, wall: datetime, value: float) -> Crossing | None:
        if value > self.threshold and self.above_since is None:
            self.above_since = at
            return Crossing("threshold_exceeded", wall, value, self.threshold)
        if value <= self.threshold and self.above_since is not None:
            stayed = at - self.above_since
            self.above_since = None
            return Crossing("threshold_cleared", wall, value, self.threshold, stayed)
        return None


@dataclass
class Display:
    """Every ``every`` seconds: the time, the current CPU and the average over the period."""

    every: float
    started: float  # monotonic time the first period starts at
    _period: list[float] = field(default_factory=list)

    def update(self, at: float, wall: datetime, value: float) -> str | None:
        self._period.append(value)
        if at - self.started + 1e-6 < self.every:  # the slack absorbs float rounding
            return None
        average = sum(self._period) / len(self._period)
        self._period.clear()
        self.started = at
        return f"{wall:%H:%M:%S}  CPU {value:5.1f}%  average {average:5.1f}% over {self.every:g} s"

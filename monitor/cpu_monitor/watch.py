"""What the monitor prints while it runs: a line per display period, threshold crossings."""

from dataclasses import dataclass, field
from datetime import datetime

from cpu_monitor.report import duration_text


@dataclass
class ThresholdWatch:
    """One message when CPU goes above the threshold, one when it falls back, not one per
    sample. Equal to the threshold is not above it."""

    threshold: float
    above_since: float | None = None

    def update(self, at: float, wall: datetime, value: float) -> str | None:
        if value > self.threshold and self.above_since is None:
            self.above_since = at
            return (
                f"{wall:%H:%M:%S}  WARNING  CPU {value:.1f}% is above the threshold "
                f"{self.threshold:g}%"
            )
        if value <= self.threshold and self.above_since is not None:
            stayed = at - self.above_since
            self.above_since = None
            return (
                f"{wall:%H:%M:%S}  CPU {value:.1f}% is back below {self.threshold:g}% "
                f"after {duration_text(stayed)} above it"
            )
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

"""What the monitor prints while it runs: a line per display period, threshold crossings."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cpu_monitor.report import duration_text


@dataclass(frozen=True)
class Figure:
    """What a threshold watches: its label in messages, the run events' prefix and the
    event data's field."""

    label: str
    event_prefix: str
    data_field: str


CPU = Figure("CPU", "", "cpu_percent")
MEMORY = Figure("Memory", "memory_", "memory_used_percent")


@dataclass(frozen=True)
class Crossing:
    """A figure went above its threshold, or came back below it."""

    name: str  # the event name: [memory_]threshold_exceeded or [memory_]threshold_cleared
    wall: datetime
    value: float
    threshold: float
    seconds_above: float | None = None
    figure: Figure = CPU

    def message(self) -> str:
        label = self.figure.label
        if self.seconds_above is None:
            return (
                f"{self.wall:%H:%M:%S}  WARNING  {label} {self.value:.1f}% is above the "
                f"threshold {self.threshold:g}%"
            )
        return (
            f"{self.wall:%H:%M:%S}  {label} {self.value:.1f}% is back below "
            f"{self.threshold:g}% after {duration_text(self.seconds_above)} above it"
        )

    def event(self) -> dict[str, Any]:
        """The run event the service records for it."""
        data: dict[str, Any] = {self.figure.data_field: self.value, "threshold": self.threshold}
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
    """One crossing when the figure goes above the threshold, one when it falls back, not
    one per sample. Equal to the threshold is not above it."""

    threshold: float
    figure: Figure = CPU
    above_since: float | None = None

    def update(self, at: float, wall: datetime, value: float) -> Crossing | None:
        prefix = self.figure.event_prefix
        if value > self.threshold and self.above_since is None:
            self.above_since = at
            return Crossing(
                f"{prefix}threshold_exceeded", wall, value, self.threshold, figure=self.figure
            )
        if value <= self.threshold and self.above_since is not None:
            stayed = at - self.above_since
            self.above_since = None
            return Crossing(
                f"{prefix}threshold_cleared", wall, value, self.threshold, stayed, self.figure
            )
        return None


@dataclass
class Display:
    """Every ``every`` seconds: the time, the current CPU and the average over the period."""

    every: float
    started: float  # monotonic time the first period starts at
    _period: list[float] = field(default_factory=list)

    def update(self, at: float, wall: datetime, value: float, more: str = "") -> str | None:
        """``more``: the other figures of this sample, for the end of the line."""
        self._period.append(value)
        if at - self.started + 1e-6 < self.every:  # the slack absorbs float rounding
            return None
        average = sum(self._period) / len(self._period)
        self._period.clear()
        self.started = at
        line = f"{wall:%H:%M:%S}  CPU {value:5.1f}%  average {average:5.1f}% over {self.every:g} s"
        return f"{line}  {more}" if more else line

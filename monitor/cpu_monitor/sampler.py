"""CPU readings from psutil."""

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Reading:
    cpu_percent: float
    per_cpu: list[float] | None


class CpuSampler:
    """Each reading is the CPU use since the previous one (psutil's non-blocking mode)."""

    def __init__(self, per_cpu: bool = False) -> None:
        self.per_cpu = per_cpu
        # psutil measures from the previous call: the first call only sets the baseline.
        psutil.cpu_percent(interval=None)
        if per_cpu:
            psutil.cpu_percent(interval=None, percpu=True)

    def read(self) -> Reading:
        total = float(psutil.cpu_percent(interval=None))
        cores = (
            [float(v) for v in psutil.cpu_percent(interval=None, percpu=True)]
            if self.per_cpu
            else None
        )
        return Reading(cpu_percent=min(max(total, 0.0), 100.0), per_cpu=cores)

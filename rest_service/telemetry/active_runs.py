"""The per-run series of /metrics, read from the database at scrape time."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class ActiveRun:
    run_id: str
    host: str
    threshold: float | None
    last_cpu: float | None
    # The latest sample's optional figures, and per figure (cpu_usage_percent included)
    # {"sum", "count", "max"} over every stored sample.
    last: dict[str, float] = field(default_factory=dict)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)


class ActiveRuns(Collector):
    """Series read from the database at scrape time, so every worker agrees and a run
    that ends simply stops appearing (no remove() needed, which multiprocess mode lacks).

    Per running run and figure F (cpu_usage_percent, memory_used_percent...):
    ``loadwatch_F`` the latest sample, ``loadwatch_F_max`` the highest so far, and the
    summary ``loadwatch_F_samples`` (``_sum``, ``_count`` of every stored sample), so that
    ``rate(_sum) / rate(_count)`` is the exact mean over any window even when samples come
    faster than Prometheus scrapes."""

    def __init__(self, runs: Sequence[ActiveRun]) -> None:
        self.runs = runs

    def collect(self) -> Iterable[Metric]:
        active = GaugeMetricFamily("loadwatch_test_runs_active", "Test runs in status running.")
        active.add_metric([], len(self.runs))
        labels = ["run_id", "host"]
        threshold = GaugeMetricFamily(
            "loadwatch_test_run_threshold_percent",
            "CPU threshold of each running run that has one.",
            labels=labels,
        )
        figures: dict[str, tuple[GaugeMetricFamily, GaugeMetricFamily, SummaryMetricFamily]] = {}

        def families(name: str) -> tuple[GaugeMetricFamily, GaugeMetricFamily, SummaryMetricFamily]:
            found = figures.get(name)
            if found is None:
                found = figures[name] = (
                    GaugeMetricFamily(
                        f"loadwatch_{name}",
                        f"Latest {name} sample of each running run.",
                        labels=labels,
                    ),
                    GaugeMetricFamily(
                        f"loadwatch_{name}_max",
                        f"Highest {name} sample of each running run.",
                        labels=labels,
                    ),
                    SummaryMetricFamily(
                        f"loadwatch_{name}_samples",
                        f"Every stored {name} sample of each running run.",
                        labels=labels,
                    ),
                )
            return found

        families("cpu_usage_percent")  # present (maybe empty) whatever the runs carry
        for run in self.runs:
            key = [run.run_id, run.host]
            if run.threshold is not None:
                threshold.add_metric(key, run.threshold)
            last = {"cpu_usage_percent": run.last_cpu, **run.last}
            for name, value in last.items():
                if value is not None:
                    families(name)[0].add_metric(key, value)
            for name, total in run.totals.items():
                _last, maximum, samples = families(name)
                maximum.add_metric(key, total["max"])
                samples.add_metric(key, count_value=int(total["count"]), sum_value=total["sum"])
        return [active, threshold, *(f for trio in figures.values() for f in trio)]

"""The /metrics body: this process's (or every worker's) metrics plus the per-run series."""

import os
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
    multiprocess,
)

from rest_service.telemetry.active_runs import ActiveRun, ActiveRuns
from rest_service.telemetry.metrics import MULTIPROCESS


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_workers(directory: Path) -> list[int]:
    """Forget the ``livesum`` gauges of workers that have died. prometheus-client keeps
    a worker's live-gauge file, and so its last values, until ``mark_process_dead`` is
    called for it, which uvicorn's supervisor never does; a crashed worker's requests
    in progress would be counted forever. Counters' files stay: totals must not fall."""
    reaped = []
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]
            reaped.append(int(pid))
    return reaped


def render(active_runs: Sequence[ActiveRun]) -> bytes:
    """The /metrics body: the process's (or all workers') metrics plus the run gauges."""
    if MULTIPROCESS:
        reap_dead_workers(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        # Process metrics can't be summed across workers: these are the answering worker's.
        ProcessCollector(registry=registry)
    else:
        registry = REGISTRY
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(ActiveRuns(active_runs))
    return generate_latest(registry) + generate_latest(snapshot)

"""Writing into the loadwatch service: a run's timings gather into chunks
(``loadkit.store.timing_codec``), each sent when it holds CHUNK_TIMINGS timings or is
FLUSH_SECONDS old, through the spool (``loadkit.store.spool``), which keeps them on the
master's disk while the service is down and sends them when it answers. A run closes once
every chunk is in, or, past the wait, as incomplete with one line saying so. A comparison's
result goes in one request."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loadkit.core.records import Batch, Endpoint, RunInfo, VerdictRecord
from loadkit.store import timing_codec
from loadkit.store.service_api import ServiceApi, ServiceDown
from loadkit.store.spool import Spool

if TYPE_CHECKING:
    from loadkit.stats.estimates import RunEstimates

log = logging.getLogger(__name__)

CHUNK_TIMINGS = 20_000
FLUSH_SECONDS = 5.0
WAIT_SECONDS = 60.0  # how long a closing run waits for the service to take its timings


@dataclass
class _Recording:
    """What this process knows of the run it records."""

    run_id: int
    endpoints: dict[Endpoint, int] = field(default_factory=dict)
    parts: list[tuple[Any, ...]] = field(default_factory=list)  # (ts, ms, endpoint, flags)
    waiting: int = 0
    chunk: int = 0
    flushed_at: float = field(default_factory=time.monotonic)
    measured: int = 0
    first_measured: float | None = None
    per_second: dict[int, int] = field(default_factory=dict)
    spawned_at: float | None = None  # set, not yet told to the service
    spawned: float | None = None  # when every user had spawned


class Writer:
    def __init__(self, api: ServiceApi, spool: Spool, wait: float) -> None:
        self.api = api
        self.spool = spool
        self.wait = wait
        self._recordings: dict[int, _Recording] = {}  # the open runs this process writes

    def start_run(self, label: str, settings: dict[str, Any]) -> tuple[int, str]:
        keys = ("users", "spawn_rate", "run_time", "host", "locustfile_hash", "pacing")
        body = {key: settings.get(key) for key in keys}
        if body["run_time"] is not None:  # Locust parses it into seconds
            body["run_time"] = str(body["run_time"])
        body["candidate_host"] = settings.get("candidate_host") or None
        body["monitor_tag"] = settings.get("monitor_tag") or None
        body.update(label=label, started_at=settings.get("started_at", time.time()))
        made = self.api.call("POST", "/load-tests", json=body)
        self._recordings[int(made["id"])] = _Recording(int(made["id"]))
        return int(made["id"]), str(made["label"])

    def _of(self, run_id: int) -> _Recording:
        return self._recordings.setdefault(run_id, _Recording(run_id))

    def mark_spawned(self, run_id: int, spawned_at: float) -> None:
        self._of(run_id).spawned_at = self._of(run_id).spawned = spawned_at
        self._tell_spawned(self._of(run_id))

    def _tell_spawned(self, rec: _Recording) -> None:
        if rec.spawned_at is None:
            return
        try:
            self.api.call(
                "PATCH", f"/load-tests/runs/{rec.run_id}", json={"spawned_at": rec.spawned_at}
            )
        except ServiceDown:
            return  # told again with the next chunk
        rec.spawned_at = None

    def add_timings(self, run_id: int, batch: Batch, spawned_at: float | None) -> int:
        """Gather a batch; a timing before ``spawned_at`` (or before it is known) is ramp-up."""
        import numpy as np

        n = len(batch)
        if n == 0:
            return 0
        rec = self._of(run_id)
        ts = np.asarray(batch.ts, dtype=np.float64)
        local = np.asarray(batch.endpoint, dtype=np.int64)
        table = np.array([rec.endpoints.setdefault(e, len(rec.endpoints)) for e in batch.endpoints])
        outside = np.ones(n, bool) if spawned_at is None else ts < spawned_at
        outside[batch.setup] = True
        flags = (
            np.asarray(batch.ok, dtype=np.uint8) * timing_codec.OK + outside * timing_codec.OUTSIDE
        )
        if any(batch.sides):
            flags += (np.asarray(batch.sides)[local] > 0) * timing_codec.CANDIDATE_SIDE
        rec.parts.append((ts, np.asarray(batch.ms, dtype=np.float64), table[local], flags))
        rec.waiting += n
        measured = ts[~outside]
        if measured.size:
            rec.measured += int(measured.size)
            low = float(measured.min())
            rec.first_measured = low if rec.first_measured is None else min(rec.first_measured, low)
        seconds, counts = np.unique(np.floor(ts).astype(np.int64), return_counts=True)
        for second, count in zip(seconds.tolist(), counts.tolist(), strict=True):
            rec.per_second[second] = rec.per_second.get(second, 0) + count
        if rec.waiting >= CHUNK_TIMINGS or time.monotonic() - rec.flushed_at >= FLUSH_SECONDS:
            self._flush(rec)
        elif self.spool.waiting:
            self.spool.send()
        return n

    def _flush(self, rec: _Recording) -> None:
        import numpy as np

        rec.flushed_at = time.monotonic()
        if rec.parts:
            ts, ms, endpoint, flags = (
                np.concatenate(column) for column in zip(*rec.parts, strict=True)
            )
            t0, data = timing_codec.encode(timing_codec.Columns(ts, ms, endpoint, flags))

            names = sorted(rec.endpoints, key=rec.endpoints.__getitem__)
            body = {
                "chunk": rec.chunk,
                "count": int(ts.size),
                "t0_us": t0,
                "endpoints": [list(e) for e in names],
                "data": base64.b64encode(data).decode("ascii"),
            }
            rec.parts, rec.waiting = [], 0
            rec.chunk += 1
            self.spool.add(rec.run_id, body)
        else:
            self.spool.send()
        if self.spool.down_since is None:
            self._tell_spawned(rec)

    def finish_run(
        self,
        run_id: int,
        stopped_at: float,
        peak_cpu: float | None,
        pacing_changes: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Send what waits (for up to the wait), then close the run: finished, or incomplete
        with one line when timings never reached the service."""
        rec = self._of(run_id)
        self._flush(rec)
        complete = self.spool.drain(self.wait)
        self._tell_spawned(rec)
        since = rec.spawned if rec.spawned is not None else rec.first_measured
        rate = (
            rec.measured / (stopped_at - since)
            if rec.measured and since and stopped_at > since
            else None
        )
        body = {
            "stopped_at": stopped_at,
            "req_per_s": rate,
            "peak_cpu": peak_cpu,
            "pacing_changes": [list(change) for change in pacing_changes],
            "timeline": sorted([s, n] for s, n in rec.per_second.items()),
            "incomplete": not complete,
        }
        if not complete:
            log.error(
                "loadkit: the loadwatch service at %s did not take %d timings within %.0f s: "
                "run %d closes incomplete (they stay in %s)",
                self.api.url,
                self.spool.timings,
                self.wait,
                run_id,
                self.spool.folder,
            )
        try:
            self.api.call("POST", f"/load-tests/runs/{run_id}/close", json=body)
        except ServiceDown as error:
            log.error("loadkit: run %d left open: %s", run_id, error)
        self._recordings.pop(run_id, None)

    def save(
        self,
        estimates: Sequence[tuple[RunInfo, dict[Endpoint, RunEstimates]]],
        verdict: VerdictRecord | None = None,
    ) -> None:
        from loadkit.stats.estimates import VERSION

        closed = [(run, found) for run, found in estimates if run.stopped_at is not None]
        if not closed and verdict is None:
            return
        body: dict[str, Any] = {
            "estimates": [
                {
                    "run_id": run.id,
                    "version": VERSION,
                    "rows": [
                        {
                            "request_type": kind,
                            "name": name,
                            "count": e.count,
                            "quantile": q,
                            "value": None if est is None else est.value,
                            "se_log": None if est is None else est.se_log,
                        }
                        for (kind, name), e in found.items()
                        for q, est in e.quantiles.items()
                    ],
                }
                for run, found in closed
            ]
        }
        if verdict is not None:
            body["comparison"] = {
                "run_id": verdict.run_id,
                "baseline_id": verdict.baseline_id,
                "verdict": verdict.verdict,
                "json_text": verdict.json,
                "banner": verdict.banner,
                "html": verdict.html,
                "change_points": change_points(verdict.json),
            }
        self.api.call("POST", "/load-tests/results", json=body)


def change_points(json_text: str) -> list[dict[str, Any]]:
    """The change points a comparison's history found, as the service keeps them."""
    history = (json.loads(json_text) or {}).get("history") or {}
    return [
        {
            "run": cp["run"],
            "request_type": e["method"],
            "name": e["name"],
            "quantile": cp["quantile"],
            "change": cp["change"],
        }
        for e in history.get("endpoints", [])
        for cp in e.get("change_points", [])
    ]

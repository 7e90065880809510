"""The results store in the loadwatch service (``--results-url``): a team's one history.
It fills ``loadkit.store.base``'s interface over the service's /load-tests API. Writing is
``loadkit.store.service_writer``'s. Reading: a run's chunks are fetched and decoded once
(``loadkit.store.timing_codec``), and every endpoint's timings are cut from those columns;
the statistics stay loadkit's, the service keeps what they found (estimates, comparisons)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit.core.records import (
    BASELINE,
    Batch,
    Endpoint,
    RunInfo,
    StoredComparison,
    VerdictRecord,
)
from loadkit.store import timing_codec
from loadkit.store.service_api import NotThere, ServiceApi
from loadkit.store.service_writer import WAIT_SECONDS, Writer
from loadkit.store.spool import Spool

if TYPE_CHECKING:
    import numpy as np

    from loadkit.stats.estimates import RunEstimates

PAGE = 1_000


def run_info(found: dict[str, Any]) -> RunInfo:
    cpu = found.get("host_cpu") or {}
    return RunInfo(
        found["id"],
        found["label"],
        found["started_at"],
        found["spawned_at"],
        found["stopped_at"],
        found["users"],
        found["spawn_rate"],
        found["run_time"],
        found["host"],
        found["locustfile_hash"],
        found["pacing"],
        found["req_per_s"],
        found["peak_cpu"],
        found["pacing_changes"],
        found["candidate_host"],
        cpu.get("p50"),
        cpu.get("p95"),
    )


class ServiceStore:
    def __init__(
        self,
        api: ServiceApi,
        folder: Path | None = None,
        wait: float = WAIT_SECONDS,
        write: bool = False,
        user: str | None = None,
    ) -> None:
        """``user``: who the token is, known already (another handle on a checked store)."""
        self.api = api
        self.user = user if user is not None else api.check(write)
        self.folder = folder
        self.wait = wait
        self.writer = Writer(api, Spool(api, None if folder is None else folder / "spool"), wait)
        self._columns: dict[tuple[int, int], tuple[list[Endpoint], timing_codec.Columns]] = {}
        # Closed runs' timing counts: a closed run takes no more timings, so its decoded
        # columns stay current without asking again.
        self._closed: dict[int, int] = {}

    @property
    def where(self) -> str:
        return self.api.url

    def reopen(self) -> ServiceStore:
        return ServiceStore(self.api.again(), self.folder, self.wait, user=self.user)

    def close(self) -> None:
        self.api.close()

    # Recording (``loadkit.store.service_writer``).
    def start_run(self, label: str, settings: dict[str, Any]) -> tuple[int, str]:
        return self.writer.start_run(label, settings)

    def mark_spawned(self, run_id: int, spawned_at: float) -> None:
        self.writer.mark_spawned(run_id, spawned_at)

    def add_timings(self, run_id: int, batch: Batch, spawned_at: float | None) -> int:
        return self.writer.add_timings(run_id, batch, spawned_at)

    def finish_run(
        self,
        run_id: int,
        stopped_at: float,
        peak_cpu: float | None,
        pacing_changes: Sequence[tuple[float, float]] = (),
    ) -> None:
        self.writer.finish_run(run_id, stopped_at, peak_cpu, pacing_changes)

    # Listings.
    def _listed(self, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.api.call(
                "GET", "/load-tests", params={"after": after, "limit": PAGE, **params}
            )
            found.extend(page)
            if len(page) < PAGE:
                return found
            after = page[-1]["id"]

    def run(self, label: str) -> RunInfo | None:
        found = self.api.call("GET", "/load-tests", params={"label": label})
        return run_info(found[0]) if found else None

    def _remember_closed(self, found: dict[str, Any]) -> int:
        """The run's timing count, kept when the run is closed (it takes no more)."""
        size = int(found["timings"])
        if found["status"] != "running":
            self._closed[int(found["id"])] = size
        return size

    def runs(self) -> list[RunInfo]:
        listed = self._listed()
        for found in listed:
            self._remember_closed(found)
        return [run_info(found) for found in listed]

    def count(self, run_id: int) -> int:
        """A closed run's count is known once listed or read; a running run is asked."""
        if run_id in self._closed:
            return self._closed[run_id]
        return self._remember_closed(self.api.call("GET", f"/load-tests/runs/{run_id}"))

    def verdicts(self) -> dict[int, str]:
        return {int(r["id"]): str(r["verdict"]) for r in self._listed() if r["verdict"] is not None}

    def comparison(self, run_id: int) -> StoredComparison | None:
        try:
            c = self.api.call("GET", f"/load-tests/runs/{run_id}/comparison")
        except NotThere:
            return None
        return StoredComparison(
            c["run_id"],
            c["baseline_label"],
            c["created_at"],
            c["verdict"],
            c["json_text"],
            c["banner"],
            c["html"],
        )

    def comparable_runs(self, current: RunInfo, limit: int = -1) -> list[RunInfo]:
        wanted = PAGE if limit < 0 else min(limit, PAGE)
        if wanted == 0:
            return []
        found = self.api.call(
            "GET", "/load-tests", params={"comparable_to": current.id, "limit": wanted}
        )
        return [run_info(f) for f in found]

    def kept_estimates(self, run_id: int) -> dict[Endpoint, RunEstimates] | None:
        from loadkit.stats.estimates import VERSION, RunEstimates
        from loadkit.stats.verdict import QuantileEstimate

        try:
            kept = self.api.call("GET", f"/load-tests/runs/{run_id}/estimates")
        except NotThere:
            return None
        if kept["version"] != VERSION:
            return None
        found: dict[Endpoint, RunEstimates] = {}
        for row in kept["rows"]:
            count, value = row["count"], row["value"]
            entry = found.setdefault((row["request_type"], row["name"]), RunEstimates(count, {}))
            entry.quantiles[row["quantile"]] = (
                None if value is None else QuantileEstimate(value, row["se_log"], count)
            )
        return found

    # Timings.
    def _decoded(self, run_id: int) -> tuple[list[Endpoint], timing_codec.Columns]:
        import base64

        import numpy as np

        size = self.count(run_id)
        if (run_id, size) in self._columns:
            return self._columns[(run_id, size)]
        names: dict[Endpoint, int] = {}
        parts = []
        after = -1
        while after is not None:
            page = self.api.call(
                "GET", f"/load-tests/runs/{run_id}/chunks", params={"after": after}
            )
            for chunk in page["items"]:
                got = timing_codec.decode(
                    chunk["count"], chunk["t0_us"], base64.b64decode(chunk["data"])
                )
                table = np.array(
                    [names.setdefault((k, n), len(names)) for k, n in chunk["endpoints"]]
                )
                parts.append((got.ts, got.ms, table[got.endpoint], got.flags))
            after = page["next_after"]
        if parts:
            ts, ms, endpoint, flags = (np.concatenate(c) for c in zip(*parts, strict=True))
        else:
            ts = ms = np.zeros(0)
            endpoint, flags = np.zeros(0, np.int64), np.zeros(0, np.uint8)
        decoded = (list(names), timing_codec.Columns(ts, ms, endpoint, flags))
        self._columns = {(run_id, size): decoded, **dict(list(self._columns.items())[-3:])}
        return decoded

    def _measured(self, run_id: int, side: int) -> tuple[list[Endpoint], timing_codec.Columns, Any]:
        names, columns = self._decoded(run_id)
        flags = columns.flags
        wanted = timing_codec.OK | (timing_codec.CANDIDATE_SIDE if side else 0)
        mask = (
            flags & (timing_codec.OK | timing_codec.OUTSIDE | timing_codec.CANDIDATE_SIDE)
        ) == wanted
        return names, columns, mask

    def endpoints(self, run_id: int, side: int = BASELINE) -> list[Endpoint]:
        import numpy as np

        names, columns, mask = self._measured(run_id, side)
        found = [names[i] for i in np.unique(columns.endpoint[mask]).tolist()]
        return sorted(found, key=lambda e: (e[1], e[0]))

    def response_times(
        self, run_id: int, endpoint: Sequence[str], side: int = BASELINE
    ) -> np.ndarray:
        return self.side_timings(run_id, endpoint, side)[1]

    def side_timings(
        self, run_id: int, endpoint: Sequence[str], side: int
    ) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        names, columns, mask = self._measured(run_id, side)
        key = (endpoint[0], endpoint[1])
        if key not in names:
            return np.zeros(0), np.zeros(0)
        mask = mask & (columns.endpoint == names.index(key))
        ts, ms = columns.ts[mask], columns.ms[mask]
        order = np.argsort(ts, kind="stable")
        return ts[order], ms[order]

    def batches(self, run_id: int, size: int = 20_000) -> Iterator[Batch]:
        """Every timing of the run, failures and ramp-up included, in batches of ``size``
        (ramp-up as ``setup`` positions), in the order of their start."""
        import numpy as np

        names, columns = self._decoded(run_id)
        order = np.argsort(columns.ts, kind="stable")
        for first in range(0, order.size, size):
            part = order[first : first + size]
            flags = columns.flags[part]
            side = (flags & timing_codec.CANDIDATE_SIDE) > 0
            keys = columns.endpoint[part] * 2 + side
            found, local = np.unique(keys, return_inverse=True)
            yield Batch(
                "copy",
                [names[k // 2] for k in found.tolist()],
                local.tolist(),
                columns.ts[part].tolist(),
                columns.ms[part].tolist(),
                ((flags & timing_codec.OK) > 0).tolist(),
                np.flatnonzero(flags & timing_codec.OUTSIDE).tolist(),
                [k % 2 for k in found.tolist()],
            )

    # A comparison's result, in one write.
    def save(
        self,
        estimates: Sequence[tuple[RunInfo, dict[Endpoint, RunEstimates]]],
        verdict: VerdictRecord | None = None,
    ) -> None:
        """Kept in the service; with a read token, nothing is kept (a reader computes what
        it needs each time)."""
        if self.api.access != "read":
            self.writer.save(estimates, verdict)

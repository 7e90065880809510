"""The results store in SQLite (WAL): every request's time, per test run, with the runs'
kept estimates and verdicts. loadkit's embedded default; it fills ``loadkit.store.base``'s
interface, and all of its SQL is here.

Only the master (or the local process) writes, and only from one writer thread: Locust's
event loop hands it batches and never waits on the disk. Inserting is the hot part, so
``timings`` has no secondary index: a run's rows are written by one master, one batch
after another, and the run remembers the range of rowids they got; reads scan that range
of the table's own b-tree.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
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
from loadkit.store import schema

if TYPE_CHECKING:
    import numpy as np

    from loadkit.stats.estimates import RunEstimates


RUN_FIELDS = (
    "id, label, started_at, spawned_at, stopped_at, users, spawn_rate, run_time, host, "
    "locustfile_hash, pacing, req_per_s, peak_cpu, "
    "(SELECT COUNT(*) FROM pacing_changes p WHERE p.run_id = runs.id), candidate_host"
)


class NotAStore(ValueError):
    """The file exists but is not a loadkit results store: it is left untouched."""


def check_store(path: Path) -> None:
    """Refuse a file that exists and is not a results store (a new or empty file is fine)."""
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return
    if not path.is_file():
        raise NotAStore(f"{path} is not a file")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        raise NotAStore(f"{path} is not a loadkit results store (not an SQLite file)") from None
    if "runs" not in tables:
        raise NotAStore(f"{path} is not a loadkit results store (it has no runs table)")


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_store(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used by one thread at a time (the writer, or a reader after it).
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        schema.create(self.db)

    @property
    def where(self) -> str:
        return str(self.path)

    def reopen(self) -> SQLiteStore:
        """Another connection to the same file, for another thread."""
        return SQLiteStore(self.path)

    def close(self) -> None:
        self.db.close()

    def free_label(self, label: str) -> str:
        """``label``, or ``label-2``, ``label-3``… when taken."""
        candidate, n = label, 1
        while self.db.execute("SELECT 1 FROM runs WHERE label = ?", (candidate,)).fetchone():
            n += 1
            candidate = f"{label}-{n}"
        return candidate

    def start_run(self, label: str, settings: dict[str, Any]) -> tuple[int, str]:
        """A new run, labelled ``label`` or the next free label (one writer: no race)."""
        label = self.free_label(label)
        cursor = self.db.execute(
            "INSERT INTO runs (label, started_at, users, spawn_rate, run_time, host, "
            "locustfile_hash, pacing, candidate_host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                label,
                settings.get("started_at", time.time()),
                settings.get("users"),
                settings.get("spawn_rate"),
                settings.get("run_time"),
                settings.get("host"),
                settings.get("locustfile_hash"),
                settings.get("pacing"),
                settings.get("candidate_host") or None,
            ),
        )
        return int(cursor.lastrowid or 0), label

    def finish_run(
        self,
        run_id: int,
        stopped_at: float,
        peak_cpu: float | None,
        pacing_changes: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Close the run with what can only be known at its end: the achieved request
        rate after ramp-up, the load generators' peak CPU, and the (time, seconds) of each
        change of pacing during the run."""
        self.db.executemany(
            "INSERT INTO pacing_changes VALUES (?, ?, ?)",
            [(run_id, ts, seconds) for ts, seconds in pacing_changes],
        )
        row = self._timings(run_id, "COUNT(*), MIN(ts)", "AND ramp_up = 0").fetchone()
        spawned = self.db.execute("SELECT spawned_at FROM runs WHERE id = ?", (run_id,)).fetchone()
        since = spawned[0] if spawned and spawned[0] is not None else row[1]
        rate = row[0] / (stopped_at - since) if row[0] and since and stopped_at > since else None
        self.db.execute(
            "UPDATE runs SET stopped_at = ?, req_per_s = ?, peak_cpu = ? WHERE id = ?",
            (stopped_at, rate, peak_cpu, run_id),
        )

    def mark_spawned(self, run_id: int, spawned_at: float) -> None:
        self.db.execute("UPDATE runs SET spawned_at = ? WHERE id = ?", (spawned_at, run_id))

    def add_timings(self, run_id: int, batch: Batch, spawned_at: float | None) -> int:
        """Store a batch; a timing before ``spawned_at`` (or before it is known) is ramp-up."""
        n = len(batch)
        if n == 0:
            return 0
        ramp_up: Iterable[int]
        if spawned_at is None:
            ramp_up = repeat(1, n)
        elif batch.setup or min(batch.ts) < spawned_at:
            setup = set(batch.setup)
            ramp_up = [int(ts < spawned_at or i in setup) for i, ts in enumerate(batch.ts)]
        else:
            ramp_up = repeat(0, n)
        kinds = [batch.endpoints[e][0] for e in batch.endpoint]
        names = [batch.endpoints[e][1] for e in batch.endpoint]
        sides: Iterable[int] = (
            [batch.sides[e] for e in batch.endpoint] if any(batch.sides) else repeat(0, n)
        )
        # zip builds the rows in C: this runs for every request of the test.
        rows = zip(
            repeat(run_id, n),
            batch.ts,
            kinds,
            names,
            batch.ms,
            batch.ok,
            repeat(batch.worker, n),
            ramp_up,
            sides,
            strict=False,
        )
        with self.db:
            self.db.executemany("INSERT INTO timings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            last = int(self.db.execute("SELECT last_insert_rowid()").fetchone()[0])
            self.db.execute(
                "UPDATE runs SET first_rowid = COALESCE(first_rowid, ?), last_rowid = ? "
                "WHERE id = ?",
                (last - n + 1, last, run_id),
            )
        return n

    def run(self, label: str) -> RunInfo | None:
        row = self.db.execute(
            f"SELECT {RUN_FIELDS} FROM runs WHERE label = ?",  # noqa: S608 - a constant
            (label,),
        ).fetchone()
        return RunInfo(*row) if row else None

    def runs(self) -> list[RunInfo]:
        """Every stored run, oldest first."""
        rows = self.db.execute(f"SELECT {RUN_FIELDS} FROM runs ORDER BY id").fetchall()  # noqa: S608
        return [RunInfo(*row) for row in rows]

    def previous_comparable(self, current: RunInfo) -> RunInfo | None:
        """The latest earlier run with the same locustfile, users, host and pacing."""
        earlier = self.comparable_runs(current, limit=1)
        return earlier[0] if earlier else None

    def comparable_runs(self, current: RunInfo, limit: int = -1) -> list[RunInfo]:
        """The closed runs before ``current`` with its locustfile, users, host and pacing,
        newest first (at most ``limit``; -1: all)."""
        rows = self.db.execute(
            f"SELECT {RUN_FIELDS} FROM runs WHERE id < ? AND locustfile_hash IS ? "  # noqa: S608
            "AND users IS ? AND host IS ? AND pacing IS ? AND stopped_at IS NOT NULL "
            "ORDER BY id DESC LIMIT ?",
            (
                current.id,
                current.locustfile_hash,
                current.users,
                current.host,
                current.pacing,
                limit,
            ),
        ).fetchall()
        return [RunInfo(*row) for row in rows]

    def _range(self, run_id: int) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT first_rowid, last_rowid FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return (row[0], row[1]) if row and row[0] is not None else (1, 0)

    def _timings(
        self, run_id: int, columns: str, condition: str = "", params: Sequence[Any] = ()
    ) -> sqlite3.Cursor:
        """``SELECT columns`` over the run's timings (within its rowid range), where
        ``condition`` ("AND …", a constant of this module) holds for ``params``."""
        first, last = self._range(run_id)
        return self.db.execute(
            f"SELECT {columns} FROM timings WHERE rowid BETWEEN ? AND ? "  # noqa: S608
            f"AND run_id = ? {condition}",
            (first, last, run_id, *params),
        )

    def count(self, run_id: int) -> int:
        return int(self._timings(run_id, "COUNT(*)").fetchone()[0])

    def endpoints(self, run_id: int, side: int = BASELINE) -> list[Endpoint]:
        """The endpoints with successful timings in the measured window (of one side)."""
        rows = self._timings(
            run_id,
            "DISTINCT request_type, name",
            "AND ramp_up = 0 AND success = 1 AND side = ? ORDER BY name, request_type",
            (side,),
        ).fetchall()
        return [(str(kind), str(name)) for kind, name in rows]

    def batches(self, run_id: int, size: int = 20_000) -> Iterator[Batch]:
        """Every timing of the run, failures and ramp-up included, in batches of ``size``
        (ramp-up as ``setup`` positions), in the order they were stored."""
        cursor = self._timings(
            run_id, "ts, request_type, name, response_time_ms, success, ramp_up, side"
        )
        while rows := cursor.fetchmany(size):
            names: dict[tuple[str, str, int], int] = {}
            batch = Batch("copy")
            for i, (ts, kind, name, ms, ok, ramp_up, side) in enumerate(rows):
                batch.endpoint.append(names.setdefault((kind, name, side), len(names)))
                batch.ts.append(ts)
                batch.ms.append(ms)
                batch.ok.append(bool(ok))
                if ramp_up:
                    batch.setup.append(i)
            batch.endpoints = [(kind, name) for kind, name, _ in names]
            batch.sides = [side for _, _, side in names]
            yield batch

    def pacing_changes(self, run_id: int) -> list[tuple[float, float]]:
        """(time, seconds) of each change of pacing during the run, in order."""
        rows = self.db.execute(
            "SELECT ts, seconds FROM pacing_changes WHERE run_id = ? ORDER BY ts", (run_id,)
        ).fetchall()
        return [(float(ts), float(seconds)) for ts, seconds in rows]

    def save(
        self,
        estimates: Sequence[tuple[RunInfo, dict[Endpoint, RunEstimates]]],
        verdict: VerdictRecord | None = None,
    ) -> None:
        """A comparison's result, in one transaction: the estimates computed for it (those
        of closed runs only: an open run's timings may still grow) and the verdict."""
        from loadkit.stats.estimates import VERSION  # numpy: not on the recording side

        closed = [(run, found) for run, found in estimates if run.stopped_at is not None]
        if not closed and verdict is None:
            return
        rows = [
            (
                run.id,
                kind,
                name,
                e.count,
                q,
                None if est is None else est.value,
                None if est is None else est.se_log,
            )
            for run, found in closed
            for (kind, name), e in found.items()
            for q, est in e.quantiles.items()
        ]
        with self.db:
            for run, _ in closed:
                self.db.execute("DELETE FROM estimates WHERE run_id = ?", (run.id,))
            self.db.executemany("INSERT INTO estimates VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany(
                "INSERT OR REPLACE INTO estimated_runs VALUES (?, ?)",
                [(run.id, VERSION) for run, _ in closed],
            )
            if verdict is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO comparisons VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        verdict.run_id,
                        verdict.baseline_id,
                        time.time(),
                        verdict.verdict,
                        verdict.json,
                        verdict.banner,
                        verdict.html,
                    ),
                )

    def kept_estimates(self, run_id: int) -> dict[Endpoint, RunEstimates] | None:
        """The run's kept estimates, or None when none of this estimator's are kept."""
        from loadkit.stats.estimates import VERSION, RunEstimates
        from loadkit.stats.verdict import QuantileEstimate

        row = self.db.execute(
            "SELECT version FROM estimated_runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is None or row[0] != VERSION:
            return None
        found: dict[Endpoint, RunEstimates] = {}
        for kind, name, count, quantile, value, se_log in self.db.execute(
            "SELECT request_type, name, count, quantile, value, se_log FROM estimates "
            "WHERE run_id = ?",
            (run_id,),
        ):
            entry = found.setdefault((kind, name), RunEstimates(count, {}))
            entry.quantiles[quantile] = (
                None if value is None else QuantileEstimate(value, se_log, count)
            )
        return found

    def comparison(self, run_id: int) -> StoredComparison | None:
        row = self.db.execute(
            "SELECT c.run_id, b.label, c.created_at, c.verdict, c.json, c.banner, c.html "
            "FROM comparisons c LEFT JOIN runs b ON b.id = c.baseline_id WHERE c.run_id = ?",
            (run_id,),
        ).fetchone()
        return StoredComparison(*row) if row else None

    def verdicts(self) -> dict[int, str]:
        """Each compared run's one-line verdict, by run id."""
        rows = self.db.execute("SELECT run_id, verdict FROM comparisons").fetchall()
        return {int(run_id): str(verdict) for run_id, verdict in rows}

    def response_times(
        self, run_id: int, endpoint: Sequence[str], side: int = BASELINE
    ) -> np.ndarray:
        """Successful requests' times, ramp-up excluded, as a float array **in the order
        the requests started**: the verdict reads the run as a time series. Rows arrive
        one worker's batch at a time, so rowid order is only roughly time order."""
        return self.side_timings(run_id, endpoint, side)[1]

    def side_timings(
        self, run_id: int, endpoint: Sequence[str], side: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(start times, response times) of one side's successful requests, ramp-up
        excluded, in the order the requests started."""
        import numpy as np  # not at import: the recorder side never needs it

        cursor = self._timings(
            run_id,
            "ts, response_time_ms",
            "AND request_type = ? AND name = ? AND side = ? AND ramp_up = 0 AND success = 1",
            (*endpoint[:2], side),
        )
        rows = np.fromiter(cursor, dtype=[("ts", np.float64), ("ms", np.float64)])
        order = np.argsort(rows["ts"], kind="stable")
        return rows["ts"][order], rows["ms"][order]

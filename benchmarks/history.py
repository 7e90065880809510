"""The time of a history: `loadwatch-compare --history` over 50 comparable runs of
1,000,000 stored timings each, and of a pair comparison of 2 x 1,000,000 timings with that
history behind it.

The first run is stored as the recorder stores one (five endpoints, batches of 100,000);
every other run is a copy of its timings, each run at a level of its own (about 2 % of
run-to-run noise) with a +10 % step at run 36, copied in SQLite itself. Timed, each with
the load average and one bcrypt check beside it:
- ``--history`` the first time, when each run's estimates are computed from its timings
  and kept (a store written before estimates were kept);
- ``--history`` again, reading the kept estimates (what a Locust run leaves: it keeps its
  estimates when its test stops);
- the newest run against the previous one, and against ``history``.

Run from the repository root: ``uv run python -m benchmarks.history [--runs 50]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from loadkit import cli
from loadkit.compare import compare_runs
from loadkit.store import SQLiteStore

from benchmarks.recorder_overhead import store_timings
from benchmarks.storage import bcrypt_ms

ENDPOINTS = [("GET", "/a"), ("POST", "/b"), ("GET", "/c"), ("GET", "/d"), ("PUT", "/e")]
SETTINGS = {"users": 50, "host": "http://h", "locustfile_hash": "x", "pacing": 1.0}
STEP_AT = 36


def build(path: Path, runs: int, per_run: int) -> float:
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    store = SQLiteStore(path)
    first, _ = store.start_run("run-1", SETTINGS)
    store.mark_spawned(first, 0.0)
    store_timings(store, first, rng.lognormal(np.log(20), 0.5, per_run), rng, ENDPOINTS)
    stopped = 1000.0 + per_run * 1e-3
    store.finish_run(first, stopped, None)
    for i in range(2, runs + 1):
        run, _ = store.start_run(f"run-{i}", SETTINGS)
        store.mark_spawned(run, 0.0)
        level = (1.10 if i >= STEP_AT else 1.0) * float(np.exp(rng.normal(0, 0.02)))
        # The first run's timings, each scaled by the run's level and a jitter of its own.
        with store.db:
            store.db.execute(
                "INSERT INTO timings SELECT ?, ts, request_type, name, "
                "response_time_ms * ? * (0.9 + 0.2 * ((rowid * 2654435761) % 1000) / 1000.0), "
                "success, worker, ramp_up FROM timings WHERE run_id = ?",
                (run, level, first),
            )
            last = int(store.db.execute("SELECT last_insert_rowid()").fetchone()[0])
            store.db.execute(
                "UPDATE runs SET first_rowid = ?, last_rowid = ? WHERE id = ?",
                (last - per_run + 1, last, run),
            )
        store.finish_run(run, stopped, None)
    store.close()
    return time.perf_counter() - started


def timed(what: str, call: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    figure = {
        "what": what,
        "seconds": round(seconds, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "bcrypt_ms": bcrypt_ms(),
    }
    print(
        f"  {what:<48} {seconds:>7.2f} s   (load {figure['load_average'][0]:.2f}, "
        f"bcrypt {figure['bcrypt_ms']} ms)",
        flush=True,
    )
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--timings", type=int, default=1_000_000, help="per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.sqlite"
        built = build(db, args.runs, args.timings)
        print(f"{args.runs} runs of {args.timings:,} timings stored in {built:.0f} s")
        history = ["--db", str(db), "--history", "--json", str(Path(tmp) / "h.json")]

        def quiet_history() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main(history) == 0

        figures = [
            timed("--history, estimates computed and kept", quiet_history),
            timed("--history, estimates kept", quiet_history),
        ]
        store = SQLiteStore(db)
        last, before = f"run-{args.runs}", f"run-{args.runs - 1}"
        figures.append(
            timed("pair: newest against previous", lambda: compare_runs(store, last, before))
        )
        figures.append(
            timed("pair: newest against history", lambda: compare_runs(store, last, "history"))
        )
        store.close()
        found = json.loads((Path(tmp) / "h.json").read_text())
        points = {
            f"{e['method']} {e['name']}": [(p["run"], p["quantile"]) for p in e["change_points"]]
            for e in found["endpoints"]
        }
        print(f"  change points found: {points}")
    print(json.dumps({"benchmark": "history", "runs": args.runs, "figures": figures}))


if __name__ == "__main__":
    main()

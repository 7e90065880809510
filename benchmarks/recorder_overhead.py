"""The cost of recording every request's time, and the time to compare two big runs.

1. One worker (with its master) against a trivial local endpoint, 50 users, the recorder
   on (every timing shipped to the master and written to SQLite), on into a live loadwatch
   service (--results-url, with --service), and off (--results-db ''), in turns: the
   ratios of request rates to off. Targets >= 0.95, and the service's no lower than
   SQLite's.
2. Two stored runs of 1,000,000 timings each (3 endpoints, log-normal times, the second
   25 % slower), compared with loadwatch-compare's code: the seconds it takes. Target < 5 s.
Run from the repository root as a module; prints one JSON line.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from loadkit.compare import compare_runs
from loadkit.core.records import Batch
from loadkit.store import SQLiteStore

from benchmarks.locust_runs import locust_rate, trivial_target

ENDPOINTS = [("GET", "/a"), ("POST", "/b"), ("GET", "/c")]


def recorder_ratio(seconds: int, rounds: int, service_url: str = "") -> dict[str, Any]:
    modes = ["sqlite", "off", *(["service"] if service_url else [])]
    runs: list[dict[str, Any]] = []
    with trivial_target() as target, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            # In turns, reversed every other round: a drift of the machine hits all alike.
            for mode in modes if round_ % 2 == 0 else modes[::-1]:
                db = str(Path(tmp) / "results.sqlite") if mode != "off" else ""
                args = ["--results-db", db]
                if mode == "service":
                    args += ["--results-url", service_url]
                result = locust_rate(target, seconds, Path(tmp), args, workers=1)
                if mode == "sqlite":
                    store = SQLiteStore(db)
                    result["stored"] = store.count(store.runs()[-1].id)
                    store.close()
                runs.append({"recorder": mode, **result})
    # Rates, not counts: Locust's run-time timer is not exact to the second.
    total = {m: sum(r["req_per_s"] for r in runs if r["recorder"] == m) for m in modes}
    ratios = {f"ratio_{m}_to_off": round(total[m] / total["off"], 3) for m in modes if m != "off"}
    return {**ratios, "runs": runs}


def store_timings(
    store: SQLiteStore,
    run_id: int,
    times: np.ndarray,
    rng: np.random.Generator,
    endpoints: list[tuple[str, str]] = ENDPOINTS,
) -> None:
    """``times`` as one run's timings spread over ``endpoints``, a millisecond apart,
    written as the recorder writes them: batches of 100,000."""
    which = rng.integers(0, len(endpoints), times.size)
    stamps = 1000.0 + np.arange(times.size) * 1e-3
    for start in range(0, times.size, 100_000):
        part = slice(start, start + 100_000)
        batch = Batch(
            "w",
            endpoints,
            which[part].tolist(),
            stamps[part].tolist(),
            times[part].tolist(),
            [True] * len(times[part]),
        )
        store.add_timings(run_id, batch, spawned_at=0.0)


def compare_time(per_run: int) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "big.sqlite")
        for label, scale in (("base", 1.0), ("current", 1.25)):
            run_id, _ = store.start_run(label, {"users": 50, "host": "h", "locustfile_hash": "x"})
            store_timings(store, run_id, rng.lognormal(np.log(20 * scale), 0.5, per_run), rng)
        started = time.perf_counter()
        comparison = compare_runs(store, "current", "base")
        elapsed = time.perf_counter() - started
        store.close()
    return {
        "timings_per_run": per_run,
        "compare_seconds": round(elapsed, 2),
        "verdicts": {f"{e.method} {e.name}": e.verdict for e in comparison.endpoints},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--timings", type=int, default=1_000_000)
    parser.add_argument(
        "--service", action="store_true", help="also record into a live loadwatch service"
    )
    args = parser.parse_args()
    if args.service:
        from benchmarks.service_store import service_store

        with service_store(False) as (service, _, _, token):
            os.environ["LOADKIT_RESULTS_TOKEN"] = token
            recorder = recorder_ratio(args.seconds, args.rounds, service.url)
    else:
        recorder = recorder_ratio(args.seconds, args.rounds)
    figures = {"recorder": recorder, "compare": compare_time(args.timings)}
    print(json.dumps({"benchmark": "recorder_overhead", **figures}))

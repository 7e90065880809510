"""loadkit's results kept in the loadwatch service (--results-url): what a stored timing
costs, and how long a team's reads take through a live service.

1. Bytes per stored timing: one run of --timings timings (3 endpoints, log-normal times,
   the recorder's batches) recorded through loadkit's service store, on the embedded
   database and on FerretDB. The figure is the BSON size of the stored chunk documents per
   timing, what MongoDB keeps before its own compression; on FerretDB also its collStats
   size. Target <= 10.
2. A comparison of two runs of 1,000,000 timings each, as `loadwatch-compare --results-url`
   runs it from a fresh process's point of view (fetch, decode, judge): seconds. Target < 10.
3. `--history` over 50 runs whose estimates are kept: seconds. Target < 2.
4. `--list` of those 52 runs from a fresh handle: seconds, and requests to the service
   (a closed run's count comes with the listing: it should not grow with the runs).

Beside each figure: the load average and one bcrypt check at 12 rounds.
Run from the repository root as a module: python -m benchmarks.results_service
"""

import argparse
import base64
import contextlib
import io
import os
import time
from typing import Any

import bson
import numpy as np
from loadkit.cli import list_runs
from loadkit.compare import compare_runs, estimates_of, history_of
from loadkit.core.records import Batch
from loadkit.store.service import ServiceStore
from pymongo import MongoClient

from benchmarks.recorder_overhead import ENDPOINTS, store_timings
from benchmarks.service_store import service_store
from benchmarks.storage import bcrypt_ms
from tests.live import Service

SETTINGS = {"users": 50, "host": "http://h", "locustfile_hash": "x", "pacing": 1.0}


def note() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"load average {load}, one bcrypt check at 12 rounds: {bcrypt_ms()} ms"


def record(store: ServiceStore, label: str, times: np.ndarray, rng: np.random.Generator) -> int:
    run, _ = store.start_run(label, SETTINGS)
    store.mark_spawned(run, 0.0)
    store_timings(store, run, times, rng)  # type: ignore[arg-type]
    store.finish_run(run, 1000.0 + times.size * 1e-3, None)
    return run


def record_as_workers(store: ServiceStore, times: np.ndarray, rng: np.random.Generator) -> int:
    """A run as a load test makes one: requests arriving at random (1,000 a second on
    average, to the microsecond), from two workers whose reports of 3,000 timings each
    interleave in time, a failure in a hundred."""
    run, _ = store.start_run("size", SETTINGS)
    store.mark_spawned(run, 0.0)
    stamps = 1000.0 + np.cumsum(rng.exponential(1e-3, times.size))
    which = rng.integers(0, len(ENDPOINTS), times.size)
    worker = rng.integers(0, 2, times.size)
    ok = rng.random(times.size) > 0.01
    for w in (0, 1):
        mine = np.flatnonzero(worker == w)
        for start in range(0, mine.size, 3_000):
            part = mine[start : start + 3_000]
            batch = Batch(
                f"w{w}",
                ENDPOINTS,
                which[part].tolist(),
                stamps[part].tolist(),
                times[part].tolist(),
                ok[part].tolist(),
            )
            store.add_timings(run, batch, 0.0)
    store.finish_run(run, float(stamps[-1]), None)
    return run


def stored_bytes(service: Service, store: ServiceStore, run: int) -> int:
    """The BSON size of the run's chunk documents, rebuilt exactly as they were inserted."""
    total, after = 0, -1
    while after is not None:
        page = store.api.call("GET", f"/load-tests/runs/{run}/chunks", params={"after": after})
        for chunk in page["items"]:
            document = {
                "_id": f"{run}:{chunk['chunk']}",
                "run_id": run,
                "chunk": chunk["chunk"],
                "timings": chunk["count"],
                "t0_us": chunk["t0_us"],
                "endpoints": [{"request_type": k, "name": n} for k, n in chunk["endpoints"]],
                "data": base64.b64decode(chunk["data"]),
            }
            total += len(bson.encode(document))
        after = page["next_after"]
    return total


def bytes_per_timing(real: bool, timings: int) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    with service_store(real) as (service, store, url, _):
        run = record_as_workers(store, rng.lognormal(np.log(20), 0.5, timings), rng)
        figure: dict[str, Any] = {
            "database": "FerretDB" if real else "embedded",
            "timings": timings,
            "bson_bytes_per_timing": round(stored_bytes(service, store, run) / timings, 2),
        }
        if url:
            with MongoClient(url) as client:
                stats = client["bench"].command("collStats", "load_test_chunks")
                figure["collstats_size_per_timing"] = round(stats["size"] / timings, 2)
                figure["collstats_storage_per_timing"] = round(
                    stats.get("storageSize", 0) / timings, 2
                )
    return figure


def timed(what: str, call: Any) -> dict[str, Any]:
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    print(f"  {what:<58} {seconds:>7.2f} s   ({note()})", flush=True)
    return {"what": what, "seconds": round(seconds, 2)}


def reads(timings: int, history_runs: int, history_timings: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    found = []
    with service_store(False) as (_, store, _url, _token):
        for label, scale in (("base", 1.0), ("current", 1.25)):
            record(store, label, rng.lognormal(np.log(20 * scale), 0.5, timings), rng)
        fresh = store.reopen()  # nothing decoded yet, as a new process
        found.append(
            timed(
                f"compare two runs of {timings:,} timings",
                lambda: compare_runs(fresh, "current", "base"),
            )
        )
        for i in range(1, history_runs + 1):
            level = 1.10 if i > history_runs * 0.7 else 1.0
            record(store, f"h-{i}", rng.lognormal(np.log(20 * level), 0.5, history_timings), rng)
            run = store.run(f"h-{i}")
            assert run is not None
            estimates_of(store, run)  # kept, as a run's close keeps them
        fresh = store.reopen()
        found.append(
            timed(
                f"--history over {history_runs} runs, estimates kept",
                lambda: history_of(fresh, f"h-{history_runs}"),
            )
        )
        found.append(listing(store.reopen(), history_runs + 2))
    return found


def listing(fresh: ServiceStore, runs: int) -> dict[str, Any]:
    """``--list`` as the command runs it (its output dropped), counting its requests."""
    asked = 0
    real = fresh.api.call

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal asked
        asked += 1
        return real(*args, **kwargs)

    fresh.api.call = counted  # type: ignore[method-assign]
    with contextlib.redirect_stdout(io.StringIO()):
        figure = timed(f"--list of {runs} runs", lambda: list_runs(fresh, "text"))
    print(f"  {figure['what']}: {figure['seconds']:.2f} s, {asked} requests   ({note()})")
    return {**figure, "requests": asked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timings", type=int, default=1_000_000, help="per run")
    parser.add_argument("--history-runs", type=int, default=50)
    parser.add_argument("--history-timings", type=int, default=20_000)
    parser.add_argument("--no-real-server", action="store_true")
    args = parser.parse_args()
    for real in (False, True) if not args.no_real_server else (False,):
        figure = bytes_per_timing(real, args.timings)
        print(f"  stored timing on {figure['database']}: {figure}   ({note()})", flush=True)
    reads(args.timings, args.history_runs, args.history_timings)


if __name__ == "__main__":
    main()

"""The gate on short histories of real runs: how often a run of unchanged code "starts a
slower level" when only a few runs come before it.

1. ``--runs`` headless Locust runs (``--seconds`` each, 10 users) of the counter example's
   locustfile against its site (``examples/counter``, one process on 127.0.0.1 for all of
   them), recorded into one SQLite store, one after the other: the same code every time,
   so every new slower level is a false alarm. ``--db`` judges a store kept from before
   instead (``--keep`` keeps one).
2. From those runs, ``--picks`` random picks of ``k`` earlier runs and a newest one (k = 3,
   4, 5, 10; no run twice in a pick, the order shuffled, so the time drift of the session
   is in the picks too), each through the product's own history (``loadkit.stats.history``):
   the share of picks whose newest run starts a slower level in p50, p95 or p99, and the
   run-to-run spread of the runs themselves beside the runs' own intervals.

Run from the repository root as a module; prints a readable table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from loadkit import compare
from loadkit.stats import history
from loadkit.stats.estimates import RunEstimates
from loadkit.stats.verdict import QUANTILES
from loadkit.store import SQLiteStore

from benchmarks.storage import bcrypt_ms
from benchmarks.verdicts import load
from tests.live import ROOT, free_port, stop

COUNTER = ROOT / "examples" / "counter"
ENDPOINT = ("GET", "/")
PRIORS = (3, 4, 5, 10)


def record(db: Path, runs: int, seconds: int) -> None:
    port = free_port()
    site = subprocess.Popen(
        [sys.executable, str(COUNTER / "site.py"), "--port", str(port), "--work-ms", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # a client gone at a run's end is no news
    )
    try:
        time.sleep(2)
        for i in range(1, runs + 1):
            print(f"  run {i}/{runs} ({load()})", flush=True)
            subprocess.run(
                [
                    str(Path(sys.executable).with_name("locust")),
                    *("-f", str(COUNTER / "locustfile.py"), "--headless"),
                    *("-u", "10", "-r", "10", "-t", f"{seconds}s"),
                    *("--host", f"http://127.0.0.1:{port}", "--exporter-port", "0"),
                    *("--results-db", str(db), "--run-label", f"same-{i}"),
                ],
                capture_output=True,
                check=True,
                timeout=seconds + 120,
                cwd=db.parent,
            )
    finally:
        stop(site)


def estimates_of(db: Path) -> list[RunEstimates]:
    """Each run's estimates of the endpoint, as a comparison reads them (kept, or computed
    and kept)."""
    store = SQLiteStore(db)
    try:
        return [compare.estimates_of(store, run)[ENDPOINT] for run in store.runs()]
    finally:
        store.close()


def spread(runs: list[RunEstimates]) -> dict[str, dict[str, float]]:
    """Per quantile: the runs' own standard error (median, log) and their spread (sd of
    the logs of their estimates)."""
    found = {}
    for quantile, _ in QUANTILES:
        points = [q for run in runs if (q := run.quantiles.get(quantile)) is not None]
        found[quantile] = {
            "own_se": round(float(np.median([p.se_log for p in points])), 4),
            "run_to_run_sd": round(float(np.std(np.log([p.value for p in points]), ddof=1)), 4),
        }
    return found


def false_alarms(runs: list[RunEstimates], prior: int, picks: int, seed: int) -> float:
    rng = np.random.default_rng([seed, prior])
    labels = [f"r{i}" for i in range(prior + 1)]
    slower = 0
    for _ in range(picks):
        pick = rng.choice(len(runs), prior + 1, replace=False)
        found = history.of_estimates(labels, [{ENDPOINT: runs[i]} for i in pick])
        slower += bool(history.slower_levels(found, labels[-1]))
    return slower / picks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--picks", type=int, default=4_000, help="per number of earlier runs")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", type=Path, help="judge this store's runs instead of recording")
    parser.add_argument("--keep", type=Path, help="record into this store and keep it")
    args = parser.parse_args()

    figures: dict[str, Any] = {"benchmark": "short_history", "bcrypt_ms": bcrypt_ms()}
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or args.keep or Path(tmp) / "same.sqlite"
        if not args.db:
            print(f"Recording {args.runs} runs of unchanged code ({load()})")
            db.parent.mkdir(parents=True, exist_ok=True)
            record(db.resolve(), args.runs, args.seconds)
        runs = estimates_of(db)
    figures["runs"] = len(runs)
    figures["spread"] = spread(runs)
    for quantile, row in figures["spread"].items():
        print(f"  {quantile}: own se {row['own_se']:.2%}, run to run sd {row['run_to_run_sd']:.2%}")
    print(f"A newest run starting a slower level, {args.picks} picks each ({load()}):")
    figures["slower_level"] = {}
    for prior in PRIORS:
        if prior + 1 > len(runs):
            continue
        share = false_alarms(runs, prior, args.picks, args.seed)
        figures["slower_level"][prior] = share
        print(f"  {prior:>2} runs before it: {share:.2%}")
    figures["load_average"] = load()
    print(f"bcrypt {figures['bcrypt_ms']} ms, {load()}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""The request rate one Locust process sustains against a trivial local endpoint, with and
without loadkit's hooks (exporter, pacing, credential and threshold listeners).

The endpoint (benchmarks/trivial_server.py) runs in its own process; Locust runs headless
in local mode (one process: users, exporter, listeners), 50 users, pacing ~0, and the
exporter is scraped every second while it runs. Rounds alternate the two variants; the
figure is the ratio of their request counts. Target: the hooks cost < 5 % (ratio > 0.95).
Recording is off here (--results-db ''): benchmarks/recorder_overhead.py measures it.
Run from the repository root as a module; prints one JSON line.
"""

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.locust_runs import locust_rate, trivial_target


def main(seconds: int, rounds: int) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with trivial_target() as target, tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            # ABBA order: a drift of the machine during the benchmark hits both alike.
            for hooks in (True, False) if round_ % 2 == 0 else (False, True):
                args = ["--results-db", ""] if hooks else []
                result = locust_rate(target, seconds, Path(tmp), args, hooks, scrape_exporter=True)
                runs.append({"hooks": hooks, **result})
    # Rates, not counts: Locust's run-time timer is not exact to the second.
    with_hooks = sum(r["req_per_s"] for r in runs if r["hooks"])
    without = sum(r["req_per_s"] for r in runs if not r["hooks"])
    return {"ratio_with_to_without": round(with_hooks / without, 3), "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print(json.dumps({"benchmark": "locust_capacity", **main(args.seconds, args.rounds)}))

"""Calibration of the baseline verdict: false-alarm rate and power on simulated runs of
known truth, a real A/A series against the service, and the time of a 2 x 1M comparison.

1. Simulated (``loadkit.stats.calibration``): for each scenario and n = 20, 200, 2,000 and
   20,000 timings per run, many independent (current, baseline) pairs go through the
   product's own ``compare_samples``; the table gives how often the verdict was the
   expected one (A/A: how often it was a regression or an improvement). Two models: the
   default one, and a harsher one (a correlation time fixed at 100 requests, so a 200-
   request run holds only two waves; more drift and run-to-run noise). For the default
   model (``loadkit.stats.calibration_history``), each pair is also judged with five earlier
   unchanged runs in its group, and by the oracle (the best test on the same two runs,
   knowing the generator, at a 1 % false-alarm rate); and series of 20 runs go through
   the history's change points (flat, a step, a drift, a single outlying run), and short
   histories (3 to 10 runs and a newest one) ask the gate's question: does the newest run
   start a slower level?
   On a model of a shared machine (``loadkit.stats.calibration_duet``), duets and
   sequential pairs of the same truth, each judged by loadkit and by its oracle.
2. Real A/A: ``--real-runs`` short distributed Locust runs (a master and 2 workers) of the
   unchanged service, each against a freshly started service on the embedded database,
   every pair compared at the defaults (later run against earlier).
3. The time to compare two stored runs of 1,000,000 timings each.

Run from the repository root as a module; prints a readable table, then one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from loadkit.compare import compare_runs
from loadkit.stats import calibration, calibration_duet, calibration_history
from loadkit.store import SQLiteStore

from benchmarks.recorder_overhead import compare_time
from tests.live import running_locust, running_service

SIZES = (20, 200, 2_000, 20_000)
HARSH = calibration.Model(correlation_requests=100, drift_sd=0.15, run_noise_sd=0.03)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def simulated(model: calibration.Model, pairs: int, seed: int) -> list[dict[str, Any]]:
    cells = []
    for scenario in calibration.SCENARIOS:
        for n in SIZES:
            # Fewer pairs where each costs most; A/A gets the most, its rate is the smallest.
            count = pairs * (3 if scenario == "A/A" else 1) // (2 if n >= 20_000 else 1)
            cell = calibration.run_cell(scenario, n, count, seed, model)
            cells.append(
                {
                    "scenario": scenario,
                    "n": n,
                    "pairs": cell.pairs,
                    "false_alarms": cell.false_alarms if scenario == "A/A" else None,
                    "power": None if scenario == "A/A" else cell.power,
                    "wrong_direction": cell.wrong_direction,
                    "regressions": cell.verdicts[calibration.verdict.REGRESSION],
                    "verdicts": dict(cell.verdicts),
                }
            )
    return cells


def print_table(title: str, cells: list[dict[str, Any]], model: calibration.Model) -> None:
    print(f"\n{title} ({load()})")
    print(f"  {'scenario':<22} {'true Δp50/p95/p99':>20} " + "".join(f"{n:>10,}" for n in SIZES))
    for scenario in calibration.SCENARIOS:
        truth = calibration.true_changes(scenario, model)
        changes = "/".join(f"{truth[q]:+.0%}" for q in ("p50", "p95", "p99"))
        row = [c for c in cells if c["scenario"] == scenario]
        figures = "".join(
            f"{(c['false_alarms'] if scenario == 'A/A' else c['power']):>10.1%}" for c in row
        )
        print(f"  {scenario:<22} {changes:>20} {figures}")
    wrong = sum(c["wrong_direction"] * c["pairs"] for c in cells)
    print("  A/A row: share of pairs called a regression or an improvement (false alarms);")
    print(f"  other rows: share called the right way (power). Wrong-direction verdicts: {wrong:g}")


def with_history(model: calibration.Model, pairs: int, seed: int) -> list[dict[str, Any]]:
    cells = []
    for n in SIZES[1:]:
        oracle = calibration_history.Oracle.fit(n, model, 4_000 if n < 20_000 else 1_000, seed)
        for scenario in calibration.SCENARIOS:
            count = pairs * (3 if scenario == "A/A" else 1) // (3 if n >= 20_000 else 1)
            cell = calibration_history.run_pair_cell(scenario, n, count, seed, model, oracle)
            cells.append(
                {
                    "scenario": scenario,
                    "n": n,
                    "pairs": cell.alone.pairs,
                    "alone": cell.alone.score,
                    "with_history": cell.with_history.score,
                    "oracle": cell.oracle,
                    "wrong_direction": {
                        "alone": cell.alone.wrong_direction,
                        "with_history": cell.with_history.wrong_direction,
                    },
                    "verdicts_with_history": dict(cell.with_history.verdicts),
                }
            )
    return cells


def print_shares(title: str, cells: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    """A table of shares: a row per scenario, and per size the figures named ``keys``."""
    print(f"\n{title} ({load()})")
    sizes = sorted({c["n"] for c in cells})
    print(f"  {'scenario':<22} " + "".join(f"{n:>{8 * len(keys)},}" for n in sizes))
    for scenario in calibration.SCENARIOS:
        row = [c for c in cells if c["scenario"] == scenario]
        print(f"  {scenario:<22} " + "".join(f"{c[k]:>8.1%}" for c in row for k in keys))


def print_history_table(cells: list[dict[str, Any]]) -> None:
    title = "Pair verdict alone / with 5 earlier runs / oracle, default model"
    print_shares(title, cells, ("alone", "with_history", "oracle"))
    wrong = sum(
        (c["wrong_direction"]["alone"] + c["wrong_direction"]["with_history"]) * c["pairs"]
        for c in cells
    )
    print(f"  A/A row: false alarms; other rows: power. Wrong-direction verdicts: {wrong:g}")


def duets(pairs: int, seed: int) -> list[dict[str, Any]]:
    """Duets and sequential pairs from one model of a shared machine, each judged by
    loadkit and by its oracle (1 % false alarms)."""
    model, machine = calibration.Model(), calibration_duet.Machine()
    cells = []
    for n in SIZES[1:]:
        null = 2_000 if n < 20_000 else 500
        oracles = (
            calibration_duet.duet_oracle(n, model, machine, null, seed),
            calibration_duet.sequential_oracle(n, model, machine, null, seed),
        )
        for scenario in calibration.SCENARIOS:
            count = pairs * (3 if scenario == "A/A" else 1) // (3 if n >= 20_000 else 1)
            cell = calibration_duet.run_duet_cell(scenario, n, count, seed, oracles, model)
            judged = {
                "duet": cell.duet,
                "duet_oracle": cell.duet_oracle,
                "sequential": cell.sequential,
                "sequential_oracle": cell.sequential_oracle,
            }
            cells.append(
                {"scenario": scenario, "n": n, "pairs": cell.duet.pairs}
                | {name: c.score for name, c in judged.items()}
                | {"wrong_direction": {k: c.wrong_direction for k, c in judged.items()}}
            )
    return cells


def print_duet_table(cells: list[dict[str, Any]]) -> None:
    title = "Shared machine: duet / its oracle / sequential pair alone / its oracle"
    print_shares(title, cells, ("duet", "duet_oracle", "sequential", "sequential_oracle"))
    wrong = sum(c["wrong_direction"]["duet"] * c["pairs"] for c in cells)
    print(f"  A/A row: false alarms; other rows: power. Duet's wrong-direction verdicts: {wrong:g}")


def series(model: calibration.Model, count: int, seed: int, n: int) -> list[dict[str, Any]]:
    found = []
    print(f"\nHistory over series of 20 runs of {n:,} timings, {count} series each ({load()})")
    for name in calibration_history.SERIES:
        cell = calibration_history.run_series(name, n, count, seed, model)
        row = {
            "series": name,
            "n": n,
            "series_count": cell.count,
            "any_change_point": cell.share(cell.any_change),
            "change_point_at_run_10": cell.share(cell.at_step),
            "run_10_an_outlier": cell.share(cell.outlier_at_step),
        }
        found.append(row)
        print(
            f"  {name:<22} a change point: {row['any_change_point']:>6.1%}   at run 10 (±1): "
            f"{row['change_point_at_run_10']:>6.1%}   run 10 an outlier: "
            f"{row['run_10_an_outlier']:>6.1%}"
        )
    return found


def newest(model: calibration.Model, count: int, seed: int, n: int) -> list[dict[str, Any]]:
    """The gate on a short history: whether the newest run starts a slower level, whether
    its pair verdict is a regression, and whether either fails the gate."""
    found = []
    print(
        f"\nThe newest run of a short history, {n:,} timings a run, {count} histories: "
        f"a slower level / the pair's regression / the gate fails ({load()})"
    )
    for prior in (3, 4, 6, 10):
        cells = [
            calibration_history.run_newest(truth, prior, n, count, seed, model)
            for truth in calibration_history.NEWEST
        ]
        found += [
            {
                "prior_runs": prior,
                "newest": c.truth,
                "histories": c.count,
                "slower_level": c.of(c.slower),
                "regression": c.of(c.regression),
                "gate_fails": c.of(c.failed),
            }
            for c in cells
        ]
        shares = "   ".join(
            f"{c.truth}: {c.of(c.slower):.1%} / {c.of(c.regression):.1%} / {c.of(c.failed):.1%}"
            for c in cells
        )
        print(f"  {prior:>2} runs before it   {shares}")
    return found


def real_series(
    runs: int, seconds: int, users: int, pacing: float, keep: Path | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = (keep or Path(tmp)) / "aa.sqlite"
        common = ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--autoquit", "0"]
        common += ["--pacing", str(pacing), "--user-pool", str(users), "--results-db", str(db)]
        env = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin-password"}
        for i in range(runs):
            print(f"  real A/A run {i + 1}/{runs} ({load()})", flush=True)
            with running_service(env, log_dir=Path(tmp)) as service:
                label = f"aa-{i + 1}"
                with running_locust(
                    service.url, Path(tmp) / label, [*common, "--run-label", label]
                ) as run:
                    run.master.wait(seconds + 120)
        store = SQLiteStore(db)
        verdicts: Counter[str] = Counter()
        per_endpoint: dict[str, Counter[str]] = {}
        counts: dict[str, list[int]] = {}
        warnings = 0
        for before, after in itertools.combinations(range(1, runs + 1), 2):
            comparison = compare_runs(store, f"aa-{after}", f"aa-{before}")
            warnings += len(comparison.warnings)
            for e in comparison.endpoints:
                verdicts[e.verdict] += 1
                per_endpoint.setdefault(e.label, Counter())[e.verdict] += 1
                counts.setdefault(e.label, []).append(e.current_count)
        rates = [store.run(f"aa-{i}").req_per_s for i in range(1, runs + 1)]  # type: ignore[union-attr]
        store.close()
    return {
        "runs": runs,
        "pairs": runs * (runs - 1) // 2,
        "verdicts": dict(verdicts),
        "per_endpoint": {k: dict(v) for k, v in per_endpoint.items()},
        "timings_per_run": {k: [min(v), max(v)] for k, v in counts.items()},
        "req_per_s": [round(r or 0, 1) for r in rates],
        "comparability_warnings": warnings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300, help="pairs per simulated cell")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--series", type=int, default=200, help="series per history cell")
    parser.add_argument("--real-runs", type=int, default=6, help="0: skip the real series")
    parser.add_argument("--seconds", type=int, default=40, help="length of each real run")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--pacing", type=float, default=0.25)
    parser.add_argument("--timings", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the real series' results store here")
    parser.add_argument("--no-simulated", action="store_true", help="skip the simulations")
    args = parser.parse_args()

    figures: dict[str, Any] = {"benchmark": "verdicts"}
    started = time.perf_counter()
    if not args.no_simulated:
        default = simulated(calibration.Model(), args.pairs, args.seed)
        print_table("Simulated, default model", default, calibration.Model())
        harsh = simulated(HARSH, args.pairs, args.seed)
        print_table("Simulated, harsh model", harsh, HARSH)
        history_cells = with_history(calibration.Model(), args.pairs, args.seed)
        print_history_table(history_cells)
        series_cells = series(calibration.Model(), args.series, args.seed, 2_000)
        newest_cells = newest(calibration.Model(), args.series, args.seed, 2_000)
        duet_cells = duets(args.pairs, args.seed)
        print_duet_table(duet_cells)
        figures["simulated"] = {
            "default": default,
            "harsh": harsh,
            "with_history": history_cells,
            "series": series_cells,
            "newest": newest_cells,
            "duets": duet_cells,
        }
        figures["simulated_seconds"] = round(time.perf_counter() - started, 1)
    if args.real_runs:
        print(f"\nReal A/A series ({load()})")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
        real = real_series(args.real_runs, args.seconds, args.users, args.pacing, args.keep)
        print(f"  {real['pairs']} pairs: {real['verdicts']}")
        for endpoint, tally in real["per_endpoint"].items():
            print(f"    {endpoint:<32} {dict(tally)}  n={real['timings_per_run'][endpoint]}")
        print(f"  achieved req/s per run: {real['req_per_s']}")
        figures["real"] = real
    timing = compare_time(args.timings)
    print(
        f"\nCompare 2 x {args.timings:,} stored timings: {timing['compare_seconds']} s ({load()})"
    )
    figures["compare"] = timing
    figures["load_average"] = os.getloadavg()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""`loadwatch-compare`: compare two stored runs after the fact, or list the stored runs."""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from loadkit import defaults, options
from loadkit.results import NotAStore, ResultsStore, check_store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loadwatch-compare",
        description=(
            "Compare the response times of two recorded runs: the change of p50, p95 and p99 "
            "per endpoint, with intervals that respect autocorrelation (KS as a diagnostic)."
        ),
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(defaults.RESULTS_DB),
        help="the results store (--results-db of the runs)",
    )
    parser.add_argument("current", nargs="?", help="the run's label")
    parser.add_argument("baseline", nargs="?", help="the baseline's label, or 'previous'")
    parser.add_argument(
        "--list",
        nargs="?",
        const="table",
        choices=("table", "json"),
        help="list the stored runs instead (as a table, or JSON for scripts) and exit",
    )
    parser.add_argument(
        "--alpha",
        type=options.alpha,
        default=defaults.ALPHA,
        help=f"family-wise error of the comparison, Holm (default {defaults.ALPHA})",
    )
    parser.add_argument(
        "--min-change",
        type=options.min_change,
        default=dict(defaults.MIN_CHANGE),
        help=options.MIN_CHANGE_HELP,
    )
    parser.add_argument("--html", type=Path, help="also write the comparison as an HTML page")
    parser.add_argument("--json", type=Path, help="also write it as JSON")
    parser.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when an endpoint regressed"
    )
    args = parser.parse_args(argv)
    if not args.list and (args.current is None or args.baseline is None):
        parser.error("give CURRENT and BASELINE labels, or --list")
    if not args.db.is_file():
        print(f"loadwatch-compare: error: no results store at {args.db}", file=sys.stderr)
        return 2
    try:
        check_store(args.db)
    except NotAStore as error:
        print(f"loadwatch-compare: error: {error}", file=sys.stderr)
        return 2
    if args.list:
        return list_runs(args.db, args.list)
    # numpy and scipy load only once the arguments are known to be good.
    from loadkit import report
    from loadkit.compare import compare_runs

    store = ResultsStore(args.db)
    try:
        comparison = compare_runs(store, args.current, args.baseline, args.alpha, args.min_change)
    except LookupError as error:
        print(f"loadwatch-compare: error: {error.args[0]}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print(report.text_table(comparison))
    if args.json:
        report.write_json(comparison, args.json)
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(report.standalone_html(comparison), encoding="utf-8")
    return 1 if args.fail_on_regression and comparison.regressions else 0


def list_runs(db: Path, form: str) -> int:
    store = ResultsStore(db)
    try:
        verdicts = store.verdicts()
        runs = [(run, store.count(run.id), verdicts.get(run.id)) for run in store.runs()]
    finally:
        store.close()
    if form == "json":
        rows = [{**asdict(run), "timings": n, "verdict": verdict} for run, n, verdict in runs]
        print(json.dumps(rows, indent=2))
        return 0
    header = (
        f"{'label':<28} {'started':<19} {'users':>5} {'pacing':>7} {'req/s':>8} {'timings':>9}"
        "  verdict against its baseline"
    )
    print(header)
    for run, count, verdict in runs:
        pacing = "-" if run.pacing is None else f"{run.pacing:g} s"
        rate = "-" if run.req_per_s is None else f"{run.req_per_s:,.1f}"
        users = "-" if run.users is None else str(run.users)
        print(
            f"{run.label[:28]:<28} {run.started_text:<19} {users:>5} {pacing:>7} {rate:>8} "
            f"{count:>9,}  {verdict or '-'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

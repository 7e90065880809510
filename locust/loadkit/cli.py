"""`loadwatch-compare`: compare two stored runs after the fact, show a run's history (its
change points and outliers), or list the stored runs."""

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from loadkit.core import defaults, options
from loadkit.store.base import ResultsStore
from loadkit.store.opened import StoreRefused, open_store


def error(message: str) -> int:
    """A request that cannot be met: one line on stderr, and exit code 2."""
    print(f"loadwatch-compare: error: {message}", file=sys.stderr)
    return 2


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
    parser.add_argument(
        "--results-url",
        default="",
        help="the loadwatch service that keeps the runs instead (--results-url of the runs); "
        "the token comes from LOADKIT_RESULTS_TOKEN or --token-file",
    )
    parser.add_argument(
        "--token-file", default="", help="with --results-url: a file holding the token"
    )
    parser.add_argument(
        "--export-to",
        metavar="URL_OR_FILE",
        help="copy the whole history (timings, estimates, verdicts) into this loadwatch service "
        "(http[s]://…, the token as for --results-url) or SQLite file, and exit",
    )
    parser.add_argument(
        "current", nargs="?", help="the run's label (with --history: default the newest run)"
    )
    parser.add_argument(
        "baseline",
        nargs="?",
        help="the baseline's label, 'previous' (the last comparable run) or 'history' (the "
        "comparable runs since the last change point, up to 10); none: CURRENT is a duet, "
        "judged against its own baseline side; LABEL:candidate names a duet's candidate side",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="show the change points and outliers of each endpoint's p50, p95 and p99 over "
        "the run's comparable runs instead",
    )
    parser.add_argument("--since", metavar="LABEL", help="--history: from this run on")
    parser.add_argument(
        "--last", type=options.runs_count, metavar="N", help="--history: the newest N runs"
    )
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
        "--min-change", type=options.min_change, default=None, help=options.MIN_CHANGE_HELP
    )
    parser.add_argument("--html", type=Path, help="also write the comparison as an HTML page")
    parser.add_argument("--json", type=Path, help="also write it as JSON")
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when an endpoint regressed, or the run starts a slower level than its history",
    )
    args = parser.parse_args(argv)
    if args.history and (args.list or args.baseline is not None or args.html):
        parser.error("--history takes at most a CURRENT label, not --list, BASELINE or --html")
    if not args.history and (args.since is not None or args.last is not None):
        parser.error("--since and --last go with --history")
    if args.export_to:
        return export(args)
    if not args.list and not args.history and args.current is None:
        parser.error(
            "give CURRENT and BASELINE labels (a duet: CURRENT alone), --history or --list"
        )
    try:
        store = reader(args)
    except StoreRefused as refused:
        return error(str(refused))
    if args.list:
        return list_runs(store, args.list)
    if args.history:
        return show_history(store, args)
    # numpy and scipy load only once the arguments are known to be good.
    from loadkit.compare import compare_duet_run, compare_runs
    from loadkit.report import comparison as report

    try:
        comparison = (
            compare_duet_run(store, args.current, args.alpha, args.min_change)
            if args.baseline is None
            else compare_runs(store, args.current, args.baseline, args.alpha, args.min_change)
        )
    except LookupError as missing:
        return error(missing.args[0])
    finally:
        store.close()
    print(report.text_table(comparison))
    if args.json:
        report.write_json(comparison, args.json)
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(report.standalone_html(comparison), encoding="utf-8")
    slower = comparison.new_slower_levels()
    return 1 if args.fail_on_regression and (comparison.gating_regressions or slower) else 0


def reader(args: argparse.Namespace) -> ResultsStore:
    """The store the arguments name, to read (an SQLite file must exist)."""
    return open_store(args.db, args.results_url, args.token_file, must_exist=True)


def export(args: argparse.Namespace) -> int:
    """Copy the history named by --db or --results-url into --export-to."""
    from loadkit.store.copy import copy_history

    target_url = args.export_to if args.export_to.startswith(("http://", "https://")) else ""
    try:
        source = reader(args)
        target = open_store(args.export_to, target_url, args.token_file, write=True)
    except StoreRefused as refused:
        return error(str(refused))
    try:
        done = copy_history(source, target)
    except LookupError as failed:
        return error(str(failed.args[0]))
    finally:
        source.close()
        target.close()
    print(
        f"loadwatch-compare: {done.runs} run(s) and {done.timings:,} timings copied into "
        f"{target.where}; {done.skipped} already there, {done.relabelled} relabelled "
        "(their label was another run's)"
    )
    return 0


def show_history(store: ResultsStore, args: argparse.Namespace) -> int:
    from loadkit.compare import history_of
    from loadkit.report import history as history_report

    try:
        floor = defaults.floor_of(args.min_change)
        current, found = history_of(store, args.current or None, args.since, args.last, floor)
    except LookupError as missing:
        return error(missing.args[0])
    finally:
        store.close()
    print(history_report.text(found))
    if args.json:
        history_report.write_json(found, args.json)
    slower = found.new_slower_levels(current)
    return 1 if args.fail_on_regression and slower else 0


def list_runs(store: ResultsStore, form: str) -> int:
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

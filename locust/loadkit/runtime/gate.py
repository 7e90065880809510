"""The verdict of each test: when a test's run closes, compare it with the baseline, store
the comparison with the run, report it (terminal, JSON, a page per run) and notify. When
Locust quits: put the last verdict into Locust's HTML report, and fail the process on a
regression when asked to. Runs in the master (or the local process)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit.core.defaults import UNMEASURED_NOTE
from loadkit.report.notify import notify
from loadkit.runtime import recording, state
from loadkit.runtime.recorder import ClosedRun
from loadkit.runtime.state import Concluded

if TYPE_CHECKING:
    from locust.env import Environment

    from loadkit.stats.comparison import Comparison
    from loadkit.store.base import ResultsStore

log = logging.getLogger(__name__)


def json_path(options: Any) -> Path:
    if options.compare_json:
        return Path(options.compare_json)
    if options.html_file:
        return Path(options.html_file).with_suffix(".compare.json")
    return Path(options.results_db).with_name("compare.json")


def reports_dir(options: Any) -> Path:
    """Each compared run's page and JSON, next to the results store."""
    return Path(options.results_db).parent / "reports"


def compare_and_store(
    store: ResultsStore,
    label: str,
    baseline: str,
    duet: bool,
    alpha: float,
    min_change: dict[str, float] | None,
    pages: Path,
) -> Comparison:
    """A duet run (``duet``) against its own baseline side, any other against ``baseline``.
    On the recorder's writer thread: numpy, scipy and the disk stay off the event loop.
    numpy and scipy load here, at the first comparison: imported with the locustfile they
    would delay Locust's start-up (and its run-time timer, set from gevent's cached clock).
    The comparison and its verdict are stored with the run, then its page and JSON are
    written into ``pages``."""
    from loadkit.compare import compare_duet_run, compare_runs
    from loadkit.report import comparison as report

    comparison = (
        compare_duet_run(store, label, alpha, min_change, keep_verdict=True)
        if duet
        else compare_runs(store, label, baseline, alpha, min_change, keep_verdict=True)
    )
    pages.mkdir(parents=True, exist_ok=True)
    (pages / f"{_file_name(label)}.html").write_text(
        report.standalone_html(comparison), encoding="utf-8"
    )
    (pages / f"{_file_name(label)}.json").write_text(report.json_text(comparison), encoding="utf-8")
    return comparison


def keep_estimates(store: ResultsStore, label: str) -> None:
    """On the recorder's writer thread: the closed run's estimates, kept for its history
    (a comparison keeps them itself)."""
    from loadkit.compare import estimates_of

    run = store.run(label)
    if run is not None:
        estimates_of(store, run)


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def conclude(environment: Environment, closed: ClosedRun) -> None:
    """A test's run has closed: its verdict, everywhere it is read."""
    kit = state.kit(environment)
    options = environment.parsed_options
    rec = kit.recorder
    if options is None or rec is None:
        return
    comparison: Comparison | None = None
    if options.baseline or closed.duet:
        try:
            comparison = rec.call(
                compare_and_store,
                closed.label,
                options.baseline,
                closed.duet,
                options.alpha,
                options.min_change,
                reports_dir(options),
            )
        except LookupError as error:
            log.error("loadkit: cannot compare: %s", error)
    else:
        try:
            rec.call(keep_estimates, closed.label)
        except LookupError as error:
            log.error("loadkit: the run's estimates are not kept: %s", error)
    kit.last = Concluded(closed.run_id, closed.label, comparison)
    if comparison is None:
        payload: dict[str, Any] = {"current": {"label": closed.label}, "baseline": None}
        notify(options, payload, f"Run {closed.label}: {closed.received} requests recorded.")
        return
    from loadkit.report import comparison as report

    text = report.text_table(comparison)
    print(text, flush=True)
    report.write_json(comparison, json_path(options))
    notify(options, comparison.to_dict(), text)


def close_with_verdict(environment: Environment, wait_for_workers: bool = True) -> None:
    """Close the open run (if any) in the background, then conclude it."""
    rec = state.kit(environment).recorder
    if rec is not None:
        rec.close_soon(lambda closed: conclude(environment, closed), wait_for_workers)


def on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    close_with_verdict(environment)


def on_reset_stats(environment: Environment) -> None:
    """Statistics reset mid-test: what came before is a run of its own, closed now."""
    from locust.runners import STATE_RUNNING, STATE_SPAWNING

    rec = state.kit(environment).recorder
    runner = environment.runner
    if rec is None or rec.run_id is None or runner is None:
        return
    if runner.state not in (STATE_RUNNING, STATE_SPAWNING):
        return
    spawned = rec.spawned_at is not None
    close_with_verdict(environment, wait_for_workers=False)
    recording.start_run(environment)  # waits for the close
    if spawned:
        rec.spawned()


def on_quitting(environment: Environment, **_kwargs: Any) -> None:
    kit = state.kit(environment)
    rec = kit.recorder
    options = environment.parsed_options
    if rec is None or options is None:
        return
    # Quit while a test still runs (Ctrl-C in web-UI mode): its workers are not stopping,
    # so their last few seconds of timings are not waited for.
    close_with_verdict(environment, wait_for_workers=False)
    rec.wait_closed()
    rec.shutdown()
    comparison = kit.last.comparison if kit.last else None
    if comparison is None:
        return
    from loadkit.report import comparison as report

    if options.html_file and Path(options.html_file).is_file():
        report.add_to_report(Path(options.html_file), comparison)
    if not options.fail_on_regression:
        return
    if comparison.gating_regressions:
        names = ", ".join(e.label for e in comparison.gating_regressions)
        log.error("loadkit: regression against %s: %s", comparison.baseline_text, names)
        environment.process_exit_code = 1
    elif comparison.regressions:
        names = ", ".join(e.label for e in comparison.regressions)
        log.warning("loadkit: regression of %s not failing the run: %s", names, UNMEASURED_NOTE)
    slower = comparison.new_slower_levels()
    if slower:
        log.error(
            "loadkit: run %r starts a slower level than its history: %s",
            comparison.current.label,
            "; ".join(slower),
        )
        environment.process_exit_code = 1

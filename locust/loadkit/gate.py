"""After the run: compare with the baseline, report everywhere, notify, and fail the run
on a regression when asked to. Runs in the master (or local process) when Locust quits,
after Locust wrote its HTML report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadkit import recorder
from loadkit.notify import notify

if TYPE_CHECKING:
    from locust.env import Environment

    from loadkit.compare import Comparison

log = logging.getLogger(__name__)


def json_path(options: Any) -> Path:
    if options.compare_json:
        return Path(options.compare_json)
    if options.html_file:
        return Path(options.html_file).with_suffix(".compare.json")
    return Path(options.results_db).with_name("compare.json")


def on_quitting(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return
    # numpy and scipy load here, at the end: imported with the locustfile they would delay
    # Locust's start-up (and its run-time timer, set from gevent's cached clock).
    from loadkit import report
    from loadkit.compare import compare_runs

    done = recorder.finish_recording()
    options = environment.parsed_options
    if done is None or done.label is None or options is None:
        return
    comparison: Comparison | None = None
    if options.baseline:
        try:
            comparison = compare_runs(
                done.store, done.label, options.baseline, options.alpha, options.min_change
            )
        except LookupError as error:
            log.error("loadkit: cannot compare: %s", error)
    if comparison is None:
        payload: dict[str, Any] = {"current": {"label": done.label}, "baseline": None}
        notify(options, payload, f"Run {done.label}: {done.received} requests recorded.")
        return
    text = report.text_table(comparison)
    print(text, flush=True)
    report.write_json(comparison, json_path(options))
    if options.html_file and Path(options.html_file).is_file():
        report.add_to_report(Path(options.html_file), comparison)
    notify(options, comparison.to_dict(), text)
    if comparison.regressions and options.fail_on_regression:
        names = ", ".join(f"{e.method} {e.name}" for e in comparison.regressions)
        log.error("loadkit: regression against %s: %s", comparison.baseline.label, names)  # type: ignore[union-attr]
        environment.process_exit_code = 1

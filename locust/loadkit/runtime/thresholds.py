"""Pass/fail thresholds, so a load test can fail CI: checked when Locust quits."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)


def broken_thresholds(environment: Environment) -> list[str]:
    """One sentence per broken threshold; empty when the run passes."""
    options = environment.parsed_options
    runner = environment.runner
    if options is None or runner is None:
        return []
    total = runner.stats.total
    broken = []
    if options.max_fail_ratio is not None and total.fail_ratio > options.max_fail_ratio:
        limit = options.max_fail_ratio
        broken.append(f"failure ratio {total.fail_ratio:.2%} is above --max-fail-ratio {limit:.2%}")
    if options.max_p95_ms is not None and total.num_requests:
        p95 = total.get_response_time_percentile(0.95)
        if p95 > options.max_p95_ms:
            broken.append(f"p95 {p95:.0f} ms is above --max-p95-ms {options.max_p95_ms:g}")
    if options.min_rps is not None and total.total_rps < options.min_rps:
        broken.append(f"{total.total_rps:.1f} req/s is below --min-rps {options.min_rps:g}")
    return broken


def on_quitting(environment: Environment, **_kwargs: Any) -> None:
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return
    broken = broken_thresholds(environment)
    for sentence in broken:
        log.error("loadkit: threshold broken: %s", sentence)
    if broken:
        environment.process_exit_code = 1

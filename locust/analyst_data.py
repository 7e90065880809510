"""loadwatch's scenario: data for its analysts to read. Before a test, the master makes sure
every load-test user has a finished run of realistic size, posted through the API as
cpu-monitor would (batches of samples, then the run finished). Runs are per owner, so each
user gets its own; a user that has one already (from an earlier test on the same service)
is left as it is.

The runs are tagged, so AnalystUser reads these and every test reads the same amount of
data: a comparison of two tests then compares the service, not the data it happened to hold.
Hooked in by scenario.py, which only locustfile.py imports.
"""

from __future__ import annotations

import logging
import math
import random
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from gevent.pool import Pool
from loadkit import host_allowed, secret, target_hosts
from user_pool import Credential, PoolError, pool_source

if TYPE_CHECKING:  # importing locust monkey-patches the process: only inside listeners
    from locust.env import Environment

log = logging.getLogger(__name__)

TAG = "loadwatch-analyst-data"
ANALYST_SAMPLES = 2_000  # in the run each analyst reads: a few pages and a CSV
BATCH = 1_000  # samples per POST, as cpu-monitor's spool sends them


def samples(count: int, seed: str) -> list[dict[str, object]]:
    """``count`` one-second samples ending now: a slow wave with noise, like a busy host."""
    rng = random.Random(seed)
    end = datetime.now(UTC) - timedelta(seconds=1)
    return [
        {
            "seq": i,
            "timestamp": (end - timedelta(seconds=count - 1 - i)).isoformat(),
            "cpu_percent": round(
                min(100.0, max(0.0, 45 + 30 * math.sin(i / 60) + rng.gauss(0, 8))), 2
            ),
        }
        for i in range(count)
    ]


def _check(response: requests.Response, what: str, *ok: int) -> requests.Response:
    if response.status_code not in ok:
        raise PoolError(f"analyst data: {what}: {response.status_code} {response.text[:200]}")
    return response


def ensure_one(host: str, cred: Credential, count: int) -> bool:
    """Make sure ``cred``'s user owns a finished tagged run of ``count`` samples or more;
    True when one had to be made."""
    session = requests.Session()
    login = {"username": cred.username, "password": cred.password}
    _check(session.post(f"{host}/auth/login", json=login, timeout=60), "login", 200)
    listed = session.get(f"{host}/runs?status=finished&limit=50", timeout=60)
    for run in _check(listed, "list runs", 200).json()["items"]:
        if TAG in run["tags"]:
            detail = _check(session.get(f"{host}/runs/{run['id']}", timeout=60), "run", 200)
            if detail.json()["summary"]["sample_count"] >= count:
                return False
    body = {"name": "analyst data", "host": "loadwatch", "threshold": 80, "tags": [TAG]}
    run_id = _check(session.post(f"{host}/runs", json=body, timeout=60), "new run", 201).json()[
        "id"
    ]
    data = samples(count, seed=cred.username)
    for start in range(0, count, BATCH):
        posted = session.post(
            f"{host}/runs/{run_id}/samples",
            json={"samples": data[start : start + BATCH]},
            timeout=60,
        )
        _check(posted, "samples", 201)
    finished = session.patch(f"{host}/runs/{run_id}", json={"status": "finished"}, timeout=60)
    _check(finished, "finish the run", 200)
    return True


def ensure_analyst_data(host: str, creds: list[Credential], count: int, parallel: int = 4) -> int:
    """Every user of the pool gets its run; returns how many were made."""
    if count <= 0 or not creds:
        return 0
    made = Pool(parallel).map(lambda cred: ensure_one(host, cred, count), creds)
    return sum(made)


def on_test_start(environment: Environment, **_kwargs: Any) -> None:
    """On the master (or local process), after the pool exists: before any user spawns."""
    from locust.runners import LocalRunner, MasterRunner

    options = environment.parsed_options
    if not isinstance(environment.runner, MasterRunner | LocalRunner) or options is None:
        return
    if options.user_pool == 0 or options.analyst_samples == 0:
        return
    hosts = target_hosts(environment)  # a duet's: the same data on both sides
    if not all(host_allowed(environment, host) for host in hosts):
        return
    creds = list(pool_source(options.user_pool, secret(environment, "loadtest_password")))
    started = time.monotonic()
    made = sum(ensure_analyst_data(host, creds, options.analyst_samples) for host in hosts)
    log.info(
        "loadwatch: analyst data ready (%d of %d users needed a %d-sample run) in %.1f s",
        made,
        len(creds),
        options.analyst_samples,
        time.monotonic() - started,
    )

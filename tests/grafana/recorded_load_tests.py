"""Load tests recorded into a live service as loadkit records them, for the Load tests
dashboard's queries."""

import os
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN


def seed_load_tests(url: str) -> int:
    """Six load tests recorded into the service as loadkit records them, GET / 30 % slower
    from the fourth on, the newest compared with its history (its change point kept) and
    tied to the running cpu-monitor (tag "sut"); the newest one's number."""
    import numpy as np
    from loadkit.compare import compare_runs
    from loadkit.core.records import Batch
    from loadkit.store.opened import open_store

    with httpx.Client(base_url=url, timeout=30) as admin:
        admin.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        token = admin.post("/auth/tokens", json={"name": "loadkit", "scope": "write"}).json()
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    token_file = folder / f"loadkit-token-{os.getpid()}"
    token_file.write_text(token["token"])
    store = open_store("", url, str(token_file), write=True)
    token_file.unlink()
    rng = np.random.default_rng(4)
    now = time.time()
    settings = {"users": 4, "host": url, "locustfile_hash": "f", "pacing": 1.0}
    for i in range(1, 7):
        start = now - 5 if i == 6 else now - 600 + 60 * i
        run, _ = store.start_run(f"r{i}", {**settings, "started_at": start, "monitor_tag": "sut"})
        store.mark_spawned(run, start)
        ms = rng.lognormal(np.log(10 * (1.3 if i >= 4 else 1.0)), 0.2, 2_000)
        ts = list(np.linspace(start, start + 4.5, ms.size))
        store.add_timings(
            run, Batch("w", [("GET", "/")], [0] * ms.size, ts, list(ms), [True] * ms.size), start
        )
        store.finish_run(run, start + 5, None)
    compare_runs(store, "r6", "history", keep_verdict=True)
    newest = store.run("r6")
    assert newest is not None and newest.host_cpu_p50 is not None
    return newest.id

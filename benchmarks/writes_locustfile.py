"""Users that only write: each logs in, opens a run of its own, and posts one sample per
request, as fast as the service answers (FastHttpUser, no wait). The account comes from
BENCH_USERNAME and BENCH_PASSWORD; a login the throttle answers 429 is tried again."""

import itertools
import os
import time
from datetime import UTC, datetime, timedelta

from locust import FastHttpUser, constant, task


class Writer(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        account = {
            "username": os.environ["BENCH_USERNAME"],
            "password": os.environ["BENCH_PASSWORD"],
        }
        for _ in range(30):
            # 50 logins at once meet the service's login throttle: wait as it says, again.
            with self.client.post("/auth/login", json=account, catch_response=True) as answer:
                if answer.status_code != 429:
                    break
                answer.success()
                wait = float(answer.headers.get("Retry-After") or 1)
            time.sleep(min(wait, 2.0))
        self.run_id = self.client.post("/runs", json={"name": "locust-writes"}).json()["id"]
        self.seqs = itertools.count()
        self.start = datetime.now(UTC) - timedelta(hours=1)

    @task
    def write(self) -> None:
        seq = next(self.seqs)
        sample = {
            "seq": seq,
            "timestamp": (self.start + timedelta(milliseconds=seq)).isoformat(),
            "cpu_percent": 42.0,
        }
        self.client.post(
            f"/runs/{self.run_id}/samples", json={"samples": [sample]}, name="/runs/[id]/samples"
        )

"""Load tests of the loadwatch service. The users are thin; loadkit does the rest.

MonitorUser behaves like one cpu-monitor; AnalystUser reads finished runs: the run of
realistic size the master gives each user before the test (analyst_data.py). Each user
logs in with an account of the pool the master makes (user_pool.py).
Requests are named by route template (/runs/[id]/samples), so the statistics hold one
row per endpoint, not one per run. A wrong status, or a body that breaks the contract,
is a failure with a message. A user's setting up and winding down (logging in, opening
and finishing its run) is sent with ``context=loadkit.SETUP``: recorded, but not measured.
"""

import random
from datetime import UTC, datetime
from typing import Any

import loadkit
from analyst_data import TAG as ANALYST_DATA
from locust.exception import StopUser
from scenario import credentials

from locust import FastHttpUser, task

SAMPLES_PER_POST = 5
SUMMARY_EVERY = 4  # iterations
PAGE_SIZE = 1_000
CSV_SHARE = 0.5  # of an analyst's reads: the rest page through the samples


class ServiceUser(FastHttpUser):
    abstract = True
    wait_time = loadkit.paced

    def on_start(self) -> None:
        self.credential = credentials(self.environment).take()
        with self.client.post(
            "/auth/login",
            json={"username": self.credential.username, "password": self.credential.password},
            catch_response=True,
            context=loadkit.SETUP,
        ) as response:
            if response.status_code != 200:
                response.failure(f"login as {self.credential.username}: {response.status_code}")
                raise StopUser()

    def expect(self, response: Any, status: int, *fields: str) -> Any:
        """The JSON body when the status and fields are right; else a failure with why."""
        if response.status_code != status:
            response.failure(
                f"expected {status}, got {response.status_code}: {response.text[:200]}"
            )
            return None
        try:
            body = response.json()
        except ValueError:
            response.failure("the body is not JSON")
            return None
        missing = [f for f in fields if f not in body]
        if missing:
            response.failure(f"the body lacks {', '.join(missing)}")
            return None
        return body


class MonitorUser(ServiceUser):
    """Like one cpu-monitor: a run, a batch of samples per iteration, a summary now and then."""

    weight = 3

    def on_start(self) -> None:
        super().on_start()
        self.seq = 0
        self.iteration = 0
        self.run_id: str | None = None
        with self.client.post(
            "/runs",
            json={"name": f"locust {self.credential.username}", "host": "locust", "threshold": 80},
            catch_response=True,
            context=loadkit.SETUP,
        ) as response:
            body = self.expect(response, 201, "id", "status")
            if body is None:
                raise StopUser()
            self.run_id = body["id"]

    @task
    def send_samples(self) -> None:
        now = datetime.now(UTC).isoformat()
        batch = [
            {"seq": self.seq + i, "timestamp": now, "cpu_percent": round(random.uniform(5, 95), 2)}
            for i in range(SAMPLES_PER_POST)
        ]
        with self.client.post(
            f"/runs/{self.run_id}/samples",
            json={"samples": batch},
            name="/runs/[id]/samples",
            catch_response=True,
        ) as response:
            body = self.expect(response, 201, "accepted", "duplicates")
            if body is not None and body["accepted"] + body["duplicates"] != len(batch):
                response.failure(f"{len(batch)} samples sent, the answer counts {body}")
        self.seq += SAMPLES_PER_POST
        self.iteration += 1
        if self.iteration % SUMMARY_EVERY == 0:
            with self.client.get(
                f"/runs/{self.run_id}", name="/runs/[id]", catch_response=True
            ) as response:
                body = self.expect(response, 200, "summary")
                if body is not None and body["summary"]["sample_count"] > self.seq:
                    response.failure("the summary counts more samples than were sent")

    def on_stop(self) -> None:
        if self.run_id is None:
            return
        with self.client.patch(
            f"/runs/{self.run_id}",
            json={"status": "finished"},
            name="/runs/[id]",
            catch_response=True,
            context=loadkit.SETUP,
        ) as response:
            self.expect(response, 200, "status")


class AnalystUser(ServiceUser):
    """Lists its finished runs, then pages through one's samples or downloads its CSV."""

    weight = 1

    @task
    def read_a_run(self) -> None:
        with self.client.get(
            "/runs", params={"status": "finished", "limit": 50}, catch_response=True
        ) as response:
            body = self.expect(response, 200, "items", "next_cursor")
        if not body or not body["items"]:
            return
        # The run the master made for this user, so every test reads as much data.
        runs = [r for r in body["items"] if ANALYST_DATA in r["tags"]] or body["items"]
        run = random.choice(runs)
        if random.random() < CSV_SHARE:
            with self.client.get(
                f"/runs/{run['id']}/samples.csv", name="/runs/[id]/samples.csv", catch_response=True
            ) as response:
                if response.status_code != 200 or not response.text.startswith("seq,timestamp"):
                    response.failure(f"CSV expected, got {response.status_code}")
            return
        after: int | None = -1
        while after is not None:
            with self.client.get(
                f"/runs/{run['id']}/samples",
                params={"after_seq": after, "limit": PAGE_SIZE},
                name="/runs/[id]/samples",
                catch_response=True,
            ) as response:
                page = self.expect(response, 200, "items", "next_after_seq")
                if page is None:
                    return
                after = page["next_after_seq"]

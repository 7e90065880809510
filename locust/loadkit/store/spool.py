"""Chunks of timings on their way to the loadwatch service, in order. Sent at once while
the service answers; from the first failure on, each waiting chunk is also written to the
master's disk (one file per chunk) and sent again, oldest first, when the service answers,
then its file removed. A chunk the service refuses for good (4xx) is dropped with one line
in the log: sending it again cannot change the answer."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadkit.store.service_api import ServiceApi, ServiceDown, ServiceError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # between attempts while the service is down
SEND_TIMEOUT_SECONDS = 10.0


@dataclass
class Waiting:
    run_id: int
    body: dict[str, Any]
    path: Path | None = None  # its copy on disk, once the service has failed


class Spool:
    def __init__(self, api: ServiceApi, folder: Path | None) -> None:
        self.api = api
        self.folder = folder
        self.waiting: deque[Waiting] = deque()
        self.down_since: float | None = None
        self.last_try = 0.0
        self.refused = 0  # timings the service refused for good

    @property
    def timings(self) -> int:
        return sum(int(w.body["count"]) for w in self.waiting)

    def add(self, run_id: int, body: dict[str, Any]) -> None:
        self.waiting.append(Waiting(run_id, body))
        self.send()

    def send(self, force: bool = False) -> bool:
        """Send what waits, oldest first; True once nothing waits."""
        now = time.monotonic()
        if self.down_since is not None and not force and now - self.last_try < RETRY_SECONDS:
            return False
        self.last_try = now
        while self.waiting:
            first = self.waiting[0]
            try:
                self.api.call(
                    "POST",
                    f"/load-tests/runs/{first.run_id}/chunks",
                    json=first.body,
                    timeout=SEND_TIMEOUT_SECONDS,
                )
            except ServiceDown as error:
                if self.down_since is None:
                    self.down_since = now
                    log.warning("loadkit: %s: timings wait on disk in %s", error, self.folder)
                self._write_down()
                return False
            except ServiceError as error:
                self.refused += int(first.body["count"])
                log.error("loadkit: %d timings dropped: %s", first.body["count"], error)
            self.waiting.popleft()
            if first.path is not None:
                first.path.unlink(missing_ok=True)
        if self.down_since is not None:
            log.warning(
                "loadkit: the loadwatch service answers again after %.0f s: every waiting "
                "timing sent",
                now - self.down_since,
            )
            self.down_since = None
        return True

    def drain(self, seconds: float) -> bool:
        """Send what waits, trying for up to ``seconds``; True once nothing waits."""
        deadline = time.monotonic() + seconds
        while not self.send(force=True):
            if time.monotonic() >= deadline:
                return False
            time.sleep(RETRY_SECONDS)
        return True

    def _write_down(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for waiting in self.waiting:
            if waiting.path is None:
                path = self.folder / f"{waiting.run_id}-{waiting.body['chunk']:08d}.json"
                path.write_text(json.dumps({"run_id": waiting.run_id, **waiting.body}))
                waiting.path = path

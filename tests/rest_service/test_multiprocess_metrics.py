"""Multiprocess metrics: the start-up command's directory, and /metrics read from it."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from rest_service.__main__ import _prepare_multiprocess_metrics
from rest_service.settings import Settings
from tests.conftest import ADMIN
from tests.live import running_service
from tests.metrics_text import value


def test_start_up_sets_and_wipes_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    stale = [tmp_path / "counter_123.db", tmp_path / "session-logouts.counter"]
    for path in stale:
        path.write_bytes(b"old")
    keep = tmp_path / "notes.txt"
    keep.write_text("not ours")
    settings = Settings(web_concurrency=2, prometheus_multiproc_dir=tmp_path)
    assert _prepare_multiprocess_metrics(settings) == tmp_path
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
    assert not any(path.exists() for path in stale)
    assert keep.exists()


def test_metrics_in_multiprocess_mode(tmp_path: Path) -> None:
    # A worker that died with 5 requests in progress left its live-gauge file behind.
    dead = subprocess.run(
        [
            sys.executable,
            "-c",
            "from prometheus_client import Gauge; "
            "Gauge('http_requests_inprogress', 'x', multiprocess_mode='livesum').set(5)",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        check=True,
    )
    assert dead.returncode == 0 and list(tmp_path.glob("gauge_livesum_*.db"))
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
    }
    with running_service(env) as service, httpx.Client(base_url=service.url) as client:
        client.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        run = client.post("/runs", json={"name": "mp", "host": "h"}).json()
        body = {
            "samples": [{"seq": 0, "timestamp": datetime.now(UTC).isoformat(), "cpu_percent": 7}]
        }
        for _ in range(3):
            client.post(f"/runs/{run['id']}/samples", json=body)
        client.get("/auth/me")
        text = client.get("/metrics").text
    assert list(tmp_path.glob("*.db")), "no multiprocess files were written"
    handler = "/runs/{id}/samples"
    assert value(text, "http_requests_total", method="POST", handler=handler, status="2xx") == 3
    assert value(text, "loadwatch_samples_ingested_total") == 1
    assert value(text, "loadwatch_samples_duplicates_total") == 2
    assert value(text, "loadwatch_auth_logins_total", result="success") == 1
    assert value(text, "loadwatch_cpu_usage_percent", run_id=run["id"], host="h") == 7
    assert value(text, "loadwatch_cache_hits_total", cache="sessions") >= 1
    assert value(text, "http_requests_inprogress") == 1  # the dead worker's 5 are gone
    assert value(text, "process_resident_memory_bytes") > 0

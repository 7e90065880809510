"""Logout reaches every worker: the shared counter and the session cache built on it."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rest_service.domain.sessions import SessionCache
from rest_service.storage.models import User
from rest_service.telemetry.cache import MonitoredTTLCache
from rest_service.telemetry.shared_counter import SharedCounter


def test_another_process_sees_increments(tmp_path: Path) -> None:
    path = tmp_path / "logouts.counter"
    here = SharedCounter(path)
    script = (
        "import sys; from pathlib import Path\n"
        "from rest_service.telemetry.shared_counter import SharedCounter\n"
        "c = SharedCounter(Path(sys.argv[1]))\n"
        "for _ in range(100): c.increment()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(4)]
    for _ in range(100):
        here.increment()
    assert all(p.wait(30) == 0 for p in procs)
    assert here.value == 500  # no lost update between processes


def test_a_logout_in_one_worker_clears_the_others(tmp_path: Path) -> None:
    path = tmp_path / "logouts.counter"

    def worker() -> SessionCache:
        return SessionCache(MonitoredTTLCache("t_workers", 100, 60), SharedCounter(path))

    first, second = worker(), worker()
    user = User.model_construct(id="ann", password_hash="x", created_at=datetime.now(UTC))
    expires = datetime.now(UTC) + timedelta(hours=1)
    first.put("token-hash", user, expires)
    second.put("token-hash", user, expires)
    assert second.get("token-hash") == (user, "session")
    first.revoke("token-hash")
    assert first.get("token-hash") is None
    assert second.get("token-hash") is None


def test_an_expired_cached_session_is_not_served() -> None:
    cache = SessionCache(MonitoredTTLCache("t_expired", 100, 60), SharedCounter())
    user = User.model_construct(id="ann", password_hash="x", created_at=datetime.now(UTC))
    cache.put("h", user, datetime.now(UTC) - timedelta(seconds=1))
    assert cache.get("h") is None

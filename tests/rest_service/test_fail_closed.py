"""Defaults that fail closed: the service refuses .env.example's placeholders and, on a real
database, an admin password the API would refuse; X-Forwarded-For is believed from trusted
proxies only; slow or endless request heads are cut off; /metrics can ask for a token."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.live import ROOT, running_service

PLACEHOLDERS = {
    line.split("=", 1)[0]: line.split("=", 1)[1]
    for line in (ROOT / ".env.example").read_text().splitlines()
    if "=" in line and not line.startswith("#") and "change-me" in line
}


def serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "ADMIN_PASSWORD")}
    return subprocess.run(
        [sys.executable, "-m", "rest_service", "serve"],
        cwd=ROOT,
        env={**clean, "PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "variable", ["ADMIN_PASSWORD", "GRAFANA_API_TOKEN", "MONITOR_API_TOKEN", "METRICS_TOKEN"]
)
def test_a_placeholder_of_env_example_is_refused_at_start(variable: str) -> None:
    result = serve({variable: PLACEHOLDERS[variable]})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == f"error: {variable} is still the placeholder of .env.example: choose your own"


def test_a_weak_admin_password_is_refused_on_a_real_database_only() -> None:
    # The settings are checked before anything connects: no server is needed to refuse.
    result = serve({"MONGODB_URL": "mongodb://127.0.0.1:1", "ADMIN_PASSWORD": "short"})
    assert result.returncode == 2
    assert "set ADMIN_PASSWORD to a longer one" in result.stderr
    assert "Traceback" not in result.stderr
    with running_service({"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "short"}) as service:
        login = {"username": "admin", "password": "short"}
        assert httpx.post(f"{service.url}/auth/login", json=login).status_code == 200


def test_forwarded_for_is_not_believed_by_default_and_heads_have_a_deadline() -> None:
    env = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin-password"}
    with running_service({**env, "HEADER_TIMEOUT_SECONDS": "2"}) as service:
        # A client naming another address in X-Forwarded-For is throttled as itself.
        wrong = {"username": "admin", "password": "wrong-password"}
        for i in range(5):
            forged = {"X-Forwarded-For": f"10.0.0.{i}"}
            httpx.post(f"{service.url}/auth/login", json=wrong, headers=forged)
        again = httpx.post(
            f"{service.url}/auth/login", json=wrong, headers={"X-Forwarded-For": "10.9.9.9"}
        )
        assert again.status_code == 429

        # A head trickled one line a second is cut off after the deadline.
        port = int(service.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as trickle:
            trickle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            closed = False
            while time.monotonic() - started < 8:
                try:
                    trickle.sendall(b"X-Slow: 1\r\n")
                    trickle.settimeout(1)
                    if trickle.recv(1024) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                    break
            assert closed and time.monotonic() - started < 4
        # An ordinary request is served as before.
        assert httpx.get(f"{service.url}/healthz").status_code == 200


def slow_bodies_closed_within(url: str, connections: int, seconds: float) -> float:
    """Open ``connections`` logins whose heads promise 100 bytes of body, send one byte,
    then one more a second: how long until the service closed every one (``seconds`` at
    most)."""
    port = int(url.rsplit(":", 1)[1])
    head = (
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    started = time.monotonic()
    try:
        for sock in socks:
            sock.sendall(head)
            sock.settimeout(0.05)
        open_ = set(range(connections))
        while open_ and time.monotonic() - started < seconds:
            for i in list(open_):
                try:
                    socks[i].sendall(b" ")
                    if socks[i].recv(1024) == b"":
                        open_.discard(i)
                except TimeoutError:
                    continue
                except OSError:
                    open_.discard(i)
            time.sleep(1)
        return time.monotonic() - started if not open_ else seconds
    finally:
        for sock in socks:
            sock.close()


def test_a_body_that_trickles_in_is_cut_off_at_its_deadline() -> None:
    """Five slow bodies under LIMIT_CONCURRENCY=5 would hold every place: each is closed
    after BODY_TIMEOUT_SECONDS, and the service answers again."""
    env = {"LIMIT_CONCURRENCY": "5", "BODY_TIMEOUT_SECONDS": "2"}
    with running_service(env) as service:
        took = slow_bodies_closed_within(service.url, 5, 10)
        assert took < 5
        assert httpx.get(f"{service.url}/healthz").status_code == 200


def test_metrics_can_require_a_token() -> None:
    token = "m" * 40
    with running_service({"METRICS_TOKEN": token}) as service:
        assert httpx.get(f"{service.url}/metrics").status_code == 401
        wrong = httpx.get(f"{service.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "METRICS_TOKEN" in wrong.json()["detail"]
        right = httpx.get(f"{service.url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200 and "loadwatch_" in right.text
    with running_service() as open_service:
        assert httpx.get(f"{open_service.url}/metrics").status_code == 200

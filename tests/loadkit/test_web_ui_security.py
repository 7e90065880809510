"""The master's web UI keeps the test's secrets: a real master (and worker) on 127.0.0.1, a
listener that plays an attacker's host, and requests as another site's page would send."""

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.live import LOCUSTFILE, ROOT, Service, running_locust, wait_for_users

ARGS = ["-u", "2", "-r", "2", "--pacing", "0.2", "--user-pool", "2", "--analyst-samples", "0"]
SECRETS = {
    "LOADWATCH_ADMIN_PASSWORD": "admin-password",
    "LOADWATCH_LOADTEST_PASSWORD": "pool-secret-4b1d",
    "LOADWATCH_WEB_USERNAME": "ops",
    "LOADWATCH_WEB_PASSWORD": "web-secret-9c2e",
    "LOADWATCH_WEB_SECRET": "cookie-key-77aa",
}
FOREIGN = "http://attacker.example"


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets (path and body)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append(f"{self.command} {self.path} {self.rfile.read(length)!r}")
            self.send_response(200)
            self.end_headers()

        do_GET = do_POST = do_PUT = do_any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def logged_in(web_url: str) -> httpx.Client:
    client = httpx.Client(base_url=web_url)
    login = {"username": "ops", "password": SECRETS["LOADWATCH_WEB_PASSWORD"]}
    answer = client.post("/loadwatch/login", data=login)
    assert answer.status_code == 302 and "login" not in answer.headers["location"]
    return client


def test_the_form_cannot_send_credentials_or_rewire_the_master(
    live_service: Service, tmp_path: Path, listener: tuple[str, list[str]]
) -> None:
    attacker, seen = listener
    args = [*ARGS, "--web-login"]
    with running_locust(
        live_service.url, tmp_path, args, workers=0, autostart=False, env=SECRETS
    ) as cluster:
        client = logged_in(cluster.web_url)
        start = {"user_count": "1", "spawn_rate": "1", "host": live_service.url}
        # Fields that are no part of the form: notices, paths, credentials.
        for field, value in [
            ("notify_webhook", f"{attacker}/hook"),
            ("compare_json", str(tmp_path / "elsewhere.json")),
            ("results_db", str(tmp_path / "other.sqlite")),
            ("admin_password", "chosen"),
            ("loadtest_password", "chosen"),
            ("web_password", "chosen"),
        ]:
            answer = client.post("/swarm", data={**start, field: value})
            assert answer.status_code == 400, field
            assert field in answer.json()["message"]
        # Another host, with the admin's credentials held by the master: refused, said why.
        answer = client.post("/swarm", data={**start, "host": attacker})
        assert answer.status_code == 400
        assert "restart it with --host" in answer.json()["message"]
        # Another site's page, with the developer's session: refused before any route.
        for path, form in [
            ("/swarm", start),
            ("/stop", {}),
            ("/pacing", {"seconds": "9"}),
            ("/loadwatch/baseline", {"baseline": ""}),
            ("/loadwatch/logout", {}),
        ]:
            answer = client.post(path, data=form, headers={"Origin": FOREIGN})
            assert answer.status_code == 403, path
            assert "access-control-allow-origin" not in answer.headers
            answer = client.post(path, data=form, headers={"Referer": f"{FOREIGN}/page"})
            assert answer.status_code == 403, path
        preflight = client.options(
            "/swarm",
            headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert client.get("/pacing").json()["seconds"] == 0.2
        # The same site, and scripts (no Origin), keep working.
        same = client.post("/pacing", data={"seconds": "0.3"}, headers={"Origin": cluster.web_url})
        assert same.status_code == 200 and same.json()["seconds"] == 0.3
        started = client.post("/swarm", data=start)
        assert started.status_code == 200 and started.json()["success"], started.text
        time.sleep(2)
        client.post("/stop")
    master_log = cluster.log("master")
    assert seen == [], seen
    assert "admin-password" not in master_log


def test_the_web_login_throttles_logs_out_and_expires(
    live_service: Service, tmp_path: Path
) -> None:
    args = [*ARGS, "--web-login", "--web-session-hours", "0.001"]  # 3.6 s
    with running_locust(
        live_service.url, tmp_path, args, workers=0, autostart=False, env=SECRETS
    ) as cluster:
        client = logged_in(cluster.web_url)
        cookie = client.cookies.get("loadkit_web_session")
        assert client.get("/loadwatch/runs").status_code == 200
        # The Baseline tab offers the logout (a same-site form POST).
        assert 'action="loadwatch/logout"' in client.get("/loadwatch/panel/baseline").text
        client.post("/loadwatch/logout")
        assert client.get("/loadwatch/runs").status_code in (302, 401)
        # The logged-out cookie stays refused (it was cleared, not just forgotten).
        stale = httpx.Client(
            base_url=cluster.web_url, cookies={"loadkit_web_session": cookie or ""}
        )
        assert stale.get("/loadwatch/runs").status_code in (302, 401)

        # The master's cookie is its own: the service's (loadwatch_session) is not touched.
        # A session ends at its lifetime from the login, however often it is used (the
        # Baseline tab polls every 2 s).
        tab = logged_in(cluster.web_url)
        assert set(tab.cookies) == {"loadkit_web_session"}
        started, answers = time.monotonic(), []
        while time.monotonic() - started < 5.5:
            answers.append((time.monotonic() - started, tab.get("/loadwatch/runs").status_code))
            time.sleep(0.5)
        assert all(code == 200 for at, code in answers if at < 3.0)
        assert all(code in (302, 401) for at, code in answers if at > 4.0)

        guesser = httpx.Client(base_url=cluster.web_url)
        for _ in range(5):
            wrong = guesser.post("/loadwatch/login", data={"username": "ops", "password": "x"})
            assert wrong.status_code == 302
        right = {"username": "ops", "password": "web-secret-9c2e"}
        refused = guesser.post("/loadwatch/login", data=right)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 800
        assert "Too many failed logins" in refused.text


def test_workers_receive_no_secret(live_service: Service, tmp_path: Path) -> None:
    """A worker holds what its users take (the pool's logins, through loadkit's message),
    and nothing of what Locust's spawn messages carry is a secret."""
    dump = tmp_path / "worker-options.json"
    wrapper = tmp_path / "worker_locustfile.py"
    wrapper.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(LOCUSTFILE.parent)!r})\n"
        "from locustfile import *  # noqa: F403\n"
        "from locust import events\n\n"
        "@events.test_start.add_listener\n"
        "def dump(environment, **_):\n"
        "    options = {k: str(v) for k, v in vars(environment.parsed_options).items()}\n"
        f"    open({str(dump)!r}, 'w').write(json.dumps(options))\n"
    )
    args = [*ARGS, "-t", "6s", "--autoquit", "0", "--web-login"]
    with running_locust(
        live_service.url, tmp_path, args, workers=1, env=SECRETS, worker_locustfile=wrapper
    ) as cluster:
        wait_for_users(cluster.exporter_url, 2)
        cluster.master.wait(timeout=60)
    received = json.loads(dump.read_text())
    # The master's custom options did arrive (the pool's size is not the default)…
    assert received["user_pool"] == "2" and received["pacing"] == "0.2"
    # …with every secret emptied.
    assert received["admin_password"] == received["web_password"] == ""
    for name, secret in SECRETS.items():
        if name != "LOADWATCH_WEB_USERNAME":
            assert secret not in json.dumps(received), name
    assert "received 2 credentials" in cluster.log("worker-0")


@pytest.mark.parametrize(
    ("variable", "option"),
    [
        ("LOADWATCH_WEB_PASSWORD", "--web-password"),
        ("LOADWATCH_LOADTEST_PASSWORD", "--loadtest-password"),
        ("LOADWATCH_ADMIN_PASSWORD", "--admin-password"),
    ],
)
def test_a_placeholder_of_env_example_stops_the_master(
    tmp_path: Path, variable: str, option: str
) -> None:
    placeholders = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "change-me" in line and not line.startswith("#")
    }
    # .env.example's names, as compose maps them onto the master's variables.
    source = {
        "LOADWATCH_WEB_PASSWORD": "LOCUST_WEB_PASSWORD",
        "LOADWATCH_LOADTEST_PASSWORD": "LOADTEST_PASSWORD",
        "LOADWATCH_ADMIN_PASSWORD": "ADMIN_PASSWORD",
    }[variable]
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-login"]
    command += ["--headless", "--results-db", str(tmp_path / "r.sqlite"), "--exporter-port", "0"]
    result = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            **SECRETS,
            variable: placeholders[source],
        },
    )
    assert result.returncode != 0
    assert f"{option} is still the placeholder of .env.example" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_candidate_host_from_the_form_follows_the_hosts_rules(
    live_service: Service, tmp_path: Path, listener: tuple[str, list[str]]
) -> None:
    """A duet's candidate host posted from the UI: refused while the test holds credentials
    for the hosts it was started with, and refused when it cannot be a candidate."""
    attacker, seen = listener
    args = [*ARGS, "--web-login"]
    with running_locust(
        live_service.url, tmp_path, args, workers=0, autostart=False, env=SECRETS
    ) as cluster:
        client = logged_in(cluster.web_url)
        start = {"user_count": "1", "spawn_rate": "1", "host": live_service.url}
        for candidate, words in [
            (attacker, "restart it with --candidate-host"),
            (live_service.url, "is --host itself"),
        ]:
            answer = client.post("/swarm", data={**start, "candidate_host": candidate})
            assert answer.status_code == 400, candidate
            assert words in answer.json()["message"]
    assert seen == [], seen
    open_args = ["-u", "1", "-r", "1", "--user-pool", "0", "--analyst-samples", "0"]
    open_args += ["--admin-password=", "--loadtest-password="]  # no credentials held
    with running_locust(
        live_service.url, tmp_path / "open", open_args, workers=0, autostart=False
    ) as cluster:
        client = httpx.Client(base_url=cluster.web_url)
        start = {"user_count": "1", "spawn_rate": "1", "host": live_service.url}
        for candidate, words in [
            (live_service.url + "/", "is --host itself"),
            (live_service.url.replace("http://", "https://"), "differ in scheme"),
            ("http://127.0.0.1:9", "does not answer"),
        ]:
            answer = client.post("/swarm", data={**start, "candidate_host": candidate})
            assert answer.status_code == 400, candidate
            assert words in answer.json()["message"]

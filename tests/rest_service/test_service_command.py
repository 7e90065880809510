"""`python -m rest_service`: clear one-line errors and exit codes, never a traceback."""

import os
import subprocess
import sys

import httpx

from tests.live import ROOT, running_service, stop


def run_cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URL", "WEB_CONCURRENCY")}
    return subprocess.run(
        [sys.executable, "-m", "rest_service", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **env},
        timeout=60,
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr


def test_create_user_needs_a_real_database() -> None:
    assert_clean_error(run_cli("create-user", "bob", stdin="long-enough\n"), "MONGODB_URL")


def test_create_user_validates_before_connecting() -> None:
    result = run_cli("create-user", "bob", stdin="short\n", MONGODB_URL="mongodb://127.0.0.1:1")
    assert_clean_error(result, "password")
    bad_name = run_cli(
        "create-user", "b o b", stdin="long-enough\n", MONGODB_URL="mongodb://127.0.0.1:1"
    )
    assert_clean_error(bad_name, "username")


def test_create_user_reports_an_unreachable_database() -> None:
    result = run_cli(
        "create-user",
        "bob",
        stdin="long-enough\n",
        MONGODB_URL="mongodb://127.0.0.1:1",
        MONGODB_TIMEOUT_MS="300",
    )
    assert_clean_error(result, "MongoDB")


def test_serve_refuses_several_workers_on_the_embedded_database() -> None:
    assert_clean_error(run_cli("serve", WEB_CONCURRENCY="2"), "WEB_CONCURRENCY")


def test_a_malformed_setting_is_named() -> None:
    assert_clean_error(run_cli("serve", BCRYPT_ROUNDS="many"), "bcrypt_rounds")


def test_an_unknown_log_level_is_named() -> None:
    assert_clean_error(run_cli("serve", LOG_LEVEL="loud"), "log_level")


def test_access_lines_are_logged_at_info_only() -> None:
    for level, logged in (("INFO", True), ("warning", False)):
        with running_service({"LOG_LEVEL": level}) as service:
            assert httpx.get(f"{service.url}/healthz").status_code == 200
            stop(service.process)
            assert ('"GET /healthz HTTP/1.1" 200' in service.log()) is logged, level

"""`make load-duet`: CANDIDATE_ variables reach the candidate's service alone, and a bad
BASE is one line and exit 2 before anything starts. `make load` beside a running service."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import run_duet
import run_load

from tests.live import ROOT, running_service


def test_candidate_variables_reach_the_candidate_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDIDATE_INJECT_LATENCY_MS", "0.5")
    monkeypatch.setenv("CANDIDATE_INJECT_LATENCY_ROUTE", "/runs/{id}/samples")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.setenv("MONGODB_URL", "mongodb://somewhere")
    candidate = run_duet.service_env(8001, candidate=True)
    baseline = run_duet.service_env(8000, candidate=False)
    assert candidate["INJECT_LATENCY_MS"] == "0.5"
    assert candidate["INJECT_LATENCY_ROUTE"] == "/runs/{id}/samples"
    assert "INJECT_LATENCY_MS" not in baseline
    for env, port in ((candidate, "8001"), (baseline, "8000")):
        assert not any(k.startswith("CANDIDATE_") for k in env)
        assert env["LOG_LEVEL"] == "warning" and env["PORT"] == port
        assert "MONGODB_URL" not in env  # each side on its own embedded database


@pytest.mark.parametrize(
    ("make_args", "words"),
    [([], "usage: make load-duet BASE="), (["BASE=no-such-commit"], "no commit 'no-such-commit'")],
)
def test_a_bad_base_is_one_line_and_exit_2(make_args: list[str], words: str) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "load-duet", *make_args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert words in result.stderr and "Traceback" not in result.stderr
    assert "serving" not in result.stdout


def test_make_load_beside_a_service_takes_its_sandbox_admin_or_says_what_to_set(
    tmp_path: Path,
) -> None:
    """`make run`, then `make load`: the sandbox's admin/admin is taken. A service whose
    admin is someone else's: one line naming what to set, exit 2, nothing started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADWATCH_")}
    own = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "not-the-sandbox"}
    with running_service(own) as service:
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "locust" / "run_load.py"),
                "--host",
                service.url,
                "--results",
                str(tmp_path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "set LOADWATCH_ADMIN_PASSWORD" in line and "--user-pool 0" in line
    assert not list(tmp_path.iterdir())  # nothing ran
    with running_service({"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin"}) as service:
        assert run_load.sandbox_admin(service.url)

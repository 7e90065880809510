"""`make load-duet`: CANDIDATE_ variables reach the candidate's service alone, and a bad
BASE is one line and exit 2 before anything starts."""

import subprocess

import pytest
import run_duet

from tests.live import ROOT


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

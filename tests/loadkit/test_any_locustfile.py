"""loadkit for a stranger: `pip install ./locust` alone in a fresh venv, a ten-line locustfile
against a small counter site (examples/counter), and the verdict and the gate on real runs."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.live import ROOT, free_port, stop

COUNTER = ROOT / "examples" / "counter"


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.fixture(scope="module")
def loadkit_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with `./locust` installed and nothing else of loadwatch's."""
    venv = tmp_path_factory.mktemp("loadkit-venv") / "venv"
    subprocess.run([*uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*uv(), "pip", "install", "--quiet", "--python", str(python), str(ROOT / "locust")],
        check=True,
        timeout=600,
    )
    listed = subprocess.run(
        [*uv(), "pip", "list", "--python", str(python)], capture_output=True, text=True
    ).stdout
    assert "loadwatch-loadkit" in listed
    for other in ("loadwatch ", "cpu-monitor", "embedded-mongo", "loadwatch-functional"):
        assert other not in listed, f"loadkit pulled in {other.strip()}"
    return venv


@contextmanager
def counter_site(port: int, work_ms: float) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(COUNTER / "site.py"), "--port", str(port), "--work-ms", str(work_ms)],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the counter site did not start"
                time.sleep(0.05)
        yield url
    finally:
        stop(process)


def headless(
    venv: Path, host: str, db: Path, label: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """One headless test of the counter's locustfile, from the fresh venv."""
    return subprocess.run(
        [
            str(venv / "bin" / "locust"),
            "-f",
            str(COUNTER / "locustfile.py"),
            "--headless",
            *("-u", "10", "-r", "10", "-t", "8s", "--host", host),
            *("--results-db", str(db), "--run-label", label, "--exporter-port", "0"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=db.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith("LOADWATCH_")},
    )


def gated(venv: Path, host: str, db: Path, label: str) -> subprocess.CompletedProcess[str]:
    """A test compared with the run labelled "first", failing on a regression; its
    comparison goes to LABEL.json beside the store."""
    json_path = db.with_name(f"{label}.json")
    return headless(
        venv,
        host,
        db,
        label,
        "--baseline",
        "first",
        "--fail-on-regression",
        "--compare-json",
        str(json_path),
    )


def test_a_strangers_locustfile_gets_runs_verdicts_and_the_gate(
    loadkit_venv: Path, tmp_path: Path
) -> None:
    db = tmp_path / "results.sqlite"
    started = time.monotonic()
    port = free_port()
    with counter_site(port, work_ms=20) as site:
        first = headless(loadkit_venv, site, db, "first")
        assert first.returncode == 0, first.stderr[-2000:]
        second = gated(loadkit_venv, site, db, "second")
        assert second.returncode == 0, second.stderr[-2000:]
    unchanged = json.loads((tmp_path / "second.json").read_text())
    assert [e["verdict"] for e in unchanged["endpoints"]] == ["no significant change"]
    with counter_site(port, work_ms=60) as site:  # the site made three times slower
        slower = gated(loadkit_venv, site, db, "slower")
    assert slower.returncode == 1, slower.stderr[-2000:]
    regressed = json.loads((tmp_path / "slower.json").read_text())
    assert [(e["method"], e["name"], e["verdict"]) for e in regressed["endpoints"]] == [
        ("GET", "/", "regression")
    ]
    listed = subprocess.run(
        [str(loadkit_venv / "bin" / "loadwatch-compare"), "--db", str(db), "--list"],
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0
    labels = [line.split()[0] for line in listed.stdout.splitlines()[1:]]
    assert labels == ["first", "second", "slower"]
    print(
        f"\ncounter example: 3 runs in {time.monotonic() - started:.0f} s; "
        f"second: {unchanged['verdict']}; slower: {regressed['verdict']}"
    )


def test_bad_input_is_one_line_and_exit_2(loadkit_venv: Path, tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    port = free_port()
    with counter_site(port, work_ms=1) as site:
        assert headless(loadkit_venv, site, db, "only").returncode == 0
        unknown = headless(loadkit_venv, site, db, "next", "--baseline", "nope")
        not_a_store = tmp_path / "notes.txt"
        not_a_store.write_text("not a results store\n")
        foreign = headless(loadkit_venv, site, not_a_store, "next")
    for result, words in ((unknown, "no run labelled 'nope'"), (foreign, "not a loadkit")):
        assert result.returncode == 2, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and words in result.stderr
    assert not_a_store.read_text() == "not a results store\n"  # left untouched
    compare = str(loadkit_venv / "bin" / "loadwatch-compare")
    for args, words in (
        (["--db", str(db), "only", "nope"], "nope"),
        (["--db", str(not_a_store), "--list"], "not a loadkit"),
    ):
        result = subprocess.run([compare, *args], capture_output=True, text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr


def test_history_measures_the_noise_and_the_gate_fails_on_a_new_slower_level(
    loadkit_venv: Path, tmp_path: Path
) -> None:
    """Four runs of the stranger's locustfile, then the site made four times as slow: the fifth
    run starts a slower level, which `--baseline history` and the gate see, and which
    `loadwatch-compare --history` names."""
    db = tmp_path / "results.sqlite"
    port = free_port()
    history = ("--baseline", "history", "--fail-on-regression")
    with counter_site(port, work_ms=10) as site:
        for i in range(1, 5):
            json_path = str(tmp_path / f"same-{i}.json")
            run = headless(
                loadkit_venv, site, db, f"same-{i}", *history, "--compare-json", json_path
            )
            assert run.returncode == 0, run.stderr[-2000:]
    unchanged = json.loads((tmp_path / "same-4.json").read_text())
    (endpoint,) = unchanged["endpoints"]
    assert endpoint["verdict"] != "regression"
    assert endpoint["noise"]["p50"]["runs"] == 3  # measured over the three runs before it
    with counter_site(port, work_ms=40) as site:
        slower = headless(
            loadkit_venv, site, db, "slower", *history, "--compare-json", str(tmp_path / "s.json")
        )
    assert slower.returncode == 1, slower.stderr[-2000:]
    assert "starts a slower level than its history: GET / p" in slower.stderr
    result = json.loads((tmp_path / "s.json").read_text())
    assert result["regressions"] == ["GET /"]
    assert result["baseline_runs"][0] == "same-1" and result["new_slower_levels"]
    found = tmp_path / "history.json"
    shown = subprocess.run(
        [
            str(loadkit_venv / "bin" / "loadwatch-compare"),
            "--db",
            str(db),
            "--history",
            "--json",
            str(found),
            "--fail-on-regression",
        ],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 1 and "change point at run 'slower'" in shown.stdout
    history_json = json.loads(found.read_text())
    assert history_json["runs"] == ["same-1", "same-2", "same-3", "same-4", "slower"]
    (entry,) = history_json["endpoints"]
    assert (entry["method"], entry["name"]) == ("GET", "/")
    assert {p["run"] for p in entry["change_points"]} == {"slower"}
    assert all(p["change"] > 0.3 and p["low"] > 0 for p in entry["change_points"])


def test_a_duet_of_the_strangers_site_finds_the_slower_copy_and_not_an_equal_one(
    loadkit_venv: Path, tmp_path: Path
) -> None:
    """Two copies of the site under one test, the users split between them: a copy 30 %
    slower at its work is a regression of the candidate side, and two equal copies raise
    no alarm, both judged side by side in time."""
    db = tmp_path / "results.sqlite"
    verdicts = {}
    for label, candidate_ms in (("equal", 20), ("slower", 26)):
        with (
            counter_site(free_port(), work_ms=20) as baseline,
            counter_site(free_port(), work_ms=candidate_ms) as candidate,
        ):
            json_path = tmp_path / f"{label}.json"
            run = headless(
                loadkit_venv,
                baseline,
                db,
                label,
                *("--candidate-host", candidate, "--compare-json", str(json_path)),
                "--fail-on-regression",
            )
        assert run.returncode == (1 if label == "slower" else 0), run.stderr[-2000:]
        assert re.search(r"GET +/ \(candidate\) ", run.stderr)  # Locust's own statistics
        found = json.loads(json_path.read_text())
        assert found["duet"] is True
        ((name, endpoint),) = [(e["name"], e) for e in found["endpoints"]]
        assert name == "/" and endpoint["current_count"] > 300 < endpoint["baseline_count"]
        verdicts[label] = endpoint["verdict"]
    assert verdicts == {"equal": "no significant change", "slower": "regression"}
    listed = subprocess.run(
        [str(loadkit_venv / "bin" / "loadwatch-compare"), "--db", str(db), "--list"],
        capture_output=True,
        text=True,
    )
    assert "REGRESSION: GET / p50" in listed.stdout and "duet 'slower'" in listed.stdout


def test_a_candidate_that_cannot_be_one_is_one_line_and_exit_2(
    loadkit_venv: Path, tmp_path: Path
) -> None:
    db = tmp_path / "results.sqlite"
    with counter_site(free_port(), work_ms=1) as site:
        https = site.replace("http://", "https://")
        for candidate, words in (
            (site + "/", "is --host itself"),
            (f"http://127.0.0.1:{free_port()}", "does not answer"),
            (https, "differ in scheme"),
            ("ftp://example", "must be an http(s) URL"),
        ):
            result = headless(loadkit_venv, site, db, "bad", "--candidate-host", candidate)
            assert result.returncode == 2, result.stderr[-2000:]
            assert "Traceback" not in result.stderr and words in result.stderr
    assert (
        not db.exists()
        or "bad"
        not in subprocess.run(
            [str(loadkit_venv / "bin" / "loadwatch-compare"), "--db", str(db), "--list"],
            capture_output=True,
            text=True,
        ).stdout
    )

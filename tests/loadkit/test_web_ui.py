"""The master's web UI, driven as a user drives it: headless Chromium through Playwright,
against a real master, two workers and the service, all on 127.0.0.1."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from loadkit.core.records import Batch
from loadkit.store import SQLiteStore
from playwright.sync_api import Browser, Page, sync_playwright

from tests.live import (
    CHROMIUM_FLAGS,
    LocustCluster,
    Service,
    running_locust,
    wait_for_users,
)

ARGS = ["-u", "12", "-r", "12", "--pacing", "0.1", "--user-pool", "12"]
ARGS += ["--analyst-samples", "500"]
TEST_SECONDS = 14


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Debian's Chromium; Playwright never downloads a browser here.
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


def open_ui(browser: Browser, cluster: LocustCluster) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(cluster.web_url)
    return page


def start_test(page: Page, label: str) -> None:
    page.get_by_role("button", name="Custom parameters").click()
    page.fill('input[name="runLabel"]', label)
    page.get_by_role("button", name="Start").click()
    page.wait_for_selector(".MuiTabs-root", timeout=30_000)


def stop_test(page: Page) -> None:
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="New").wait_for(timeout=60_000)


def panel_text(page: Page, tab: str, contains: str, timeout: float = 60) -> str:
    """The loadkit panel of ``tab`` once it shows ``contains`` (it refreshes by itself)."""
    page.get_by_role("tab", name=tab).click()
    deadline = time.monotonic() + timeout
    while True:
        text = (
            page.inner_text("#loadwatch-panel") if page.query_selector("#loadwatch-panel") else ""
        )
        if contains in text:
            return text
        assert time.monotonic() < deadline, f"the {tab} tab never showed {contains!r}: {text}"
        time.sleep(0.5)


def test_baseline_and_pacing_from_the_web_ui(
    live_service: Service, tmp_path: Path, browser: Browser
) -> None:
    with running_locust(live_service.url, tmp_path, ARGS, autostart=False) as cluster:
        page = open_ui(browser, cluster)
        # No password, pacing or baseline is a field of Locust's form.
        form_fields = {i.get_attribute("name") for i in page.query_selector_all("form input")}
        assert "runLabel" in form_fields
        assert not {"adminPassword", "loadtestPassword", "pacing", "baseline"} & form_fields
        page_source = httpx.get(cluster.web_url).text
        assert "admin-password" not in page_source and "password" not in page_source.lower()

        # The first test: recorded, compared with nothing.
        page.wait_for_selector("#loadwatch-panel select", timeout=30_000)
        start_test(page, "base")
        time.sleep(TEST_SECONDS)
        stop_test(page)
        panel_text(page, "Baseline", "The last test, base, was not compared")

        # Pick it as the baseline in the tab, then a second test from the same page.
        page.select_option("#loadwatch-panel select[name=baseline]", "base")
        page.click("#loadwatch-panel form[data-action='loadwatch/baseline'] button")
        assert httpx.get(f"{cluster.web_url}/loadwatch/baseline").json() == {"baseline": "base"}
        page.get_by_role("button", name="New").click()
        start_test(page, "second")
        # The run opens once the master's start-up work (the analyst data among it) is done,
        # which takes a while on a busy machine: change the pacing only once the users run,
        # so that the change falls inside the run.
        wait_for_users(cluster.exporter_url, 12)

        # Change the pacing in its tab while the test runs: the workers take it.
        time.sleep(TEST_SECONDS / 2)
        panel_text(page, "Pacing", "Pacing")
        page.fill("#loadwatch-panel input[name=seconds]", "0.2")
        page.click("#loadwatch-panel form[data-action='pacing'] button")
        assert panel_text(page, "Pacing", "0.2 s").count("0.2 s") >= 1
        assert httpx.get(f"{cluster.web_url}/pacing").json()["seconds"] == 0.2
        time.sleep(TEST_SECONDS / 2)
        stop_test(page)

        # The verdict against 'base' shows in the Baseline tab, without the master quitting.
        text = panel_text(page, "Baseline", "against 'base'")
        assert re.search(r"REGRESSION|improvement|no significant change|no verdict", text), text
        assert "pacing changed 1 time(s) during run 'second'" in text
        assert page.query_selector("#loadwatch-panel svg") is not None  # the ECDFs
        shot = tmp_path / "baseline-tab.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000

        # "Download data" gives Locust's report with the same section.
        report = httpx.get(f"{cluster.web_url}/stats/report", params={"download": "1"}).text
        assert 'id="loadwatch-baseline"' in report
        assert "run <code>second</code> against <code>base</code>" in report
        # For scripts: the runs with their verdicts, the last comparison, a run's page.
        listed = httpx.get(f"{cluster.web_url}/loadwatch/runs").json()
        assert [r["label"] for r in listed] == ["second", "base"]
        assert listed[1]["verdict"] is None and "against 'base'" in listed[0]["verdict"]
        compared = httpx.get(f"{cluster.web_url}/loadwatch/comparison").json()
        assert compared["current"]["label"] == "second" and compared["baseline"]["label"] == "base"
        page = httpx.get(f"{cluster.web_url}/loadwatch/report/{listed[0]['id']}")
        assert page.status_code == 200 and 'id="loadwatch-baseline"' in page.text
        assert httpx.get(f"{cluster.web_url}/loadwatch/report/{listed[1]['id']}").status_code == 404

        # Bad values from a script are refused as the command line refuses them.
        refused = httpx.post(
            f"{cluster.web_url}/swarm", data={"user_count": 1, "spawn_rate": 1, "pacing": "x"}
        )
        assert refused.status_code == 400 and "pacing" in refused.json()["message"]
        unknown = httpx.post(f"{cluster.web_url}/loadwatch/baseline", json={"baseline": "nope"})
        assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]
        for body in ([1], 5, {"seconds": "NaN"}, {"seconds": 0}):
            bad = httpx.post(f"{cluster.web_url}/pacing", json=body)
            assert bad.status_code == 400 and "seconds" in bad.json()["detail"], body
        assert cluster.master.poll() is None  # still serving: nothing waited for a quit

    store = SQLiteStore(tmp_path / "results.sqlite")
    base, second = store.run("base"), store.run("second")
    assert base is not None and second is not None
    # Two runs, each closed at its STOP, each with its own spawn time.
    for run in (base, second):
        assert run.spawned_at is not None and run.stopped_at is not None, run
    assert base.stopped_at is not None and second.spawned_at is not None
    assert second.started_at > base.stopped_at and second.spawned_at > second.started_at
    assert [seconds for _, seconds in store.pacing_changes(second.id)] == [0.2]
    assert base.pacing_changes == 0
    stored = store.comparison(second.id)
    assert stored is not None and stored.baseline_label == "base"
    assert store.comparison(base.id) is None
    # Logins and each user's setup are recorded but outside the measured window.
    assert ("POST", "/auth/login") not in store.endpoints(second.id)
    assert ("GET", "/runs/[id]/samples.csv") in store.endpoints(second.id)


def seed_faster_copies(db: Path, label: str, factors: list[float]) -> None:
    """Runs comparable with ``label`` whose timings are its own times ``factor``: earlier
    history at a faster level, as if the service had been quicker before."""
    store = SQLiteStore(db)
    run = store.run(label)
    assert run is not None
    settings = {
        "users": run.users,
        "host": run.host,
        "locustfile_hash": run.locustfile_hash,
        "pacing": run.pacing,
    }
    for i, factor in enumerate(factors):
        copy, _ = store.start_run(f"{label}-fast-{i + 1}", settings)
        now = time.time()
        store.mark_spawned(copy, now)
        for endpoint in store.endpoints(run.id):
            times = [float(t) * factor for t in store.response_times(run.id, endpoint)]
            ts = [now + j * 0.01 for j in range(len(times))]
            batch = Batch("w", [endpoint], [0] * len(times), ts, times, [True] * len(times))
            store.add_timings(copy, batch, spawned_at=now)
        store.finish_run(copy, now + 60, None)
    store.close()


def test_a_step_shows_as_a_change_point_in_the_baseline_tab(
    live_service: Service, tmp_path: Path, browser: Browser
) -> None:
    with running_locust(live_service.url, tmp_path, ARGS, autostart=False) as cluster:
        page = open_ui(browser, cluster)
        page.wait_for_selector("#loadwatch-panel select", timeout=30_000)
        start_test(page, "first")
        time.sleep(TEST_SECONDS / 2)
        stop_test(page)
        panel_text(page, "Baseline", "The last test, first, was not compared")
        # Four earlier runs at a third of these times: the next test is a step up.
        seed_faster_copies(tmp_path / "results.sqlite", "first", [0.30, 0.31, 0.29, 0.30])
        page.select_option("#loadwatch-panel select[name=baseline]", "history")
        page.click("#loadwatch-panel form[data-action='loadwatch/baseline'] button")
        assert httpx.get(f"{cluster.web_url}/loadwatch/baseline").json() == {"baseline": "history"}
        page.get_by_role("button", name="New").click()
        start_test(page, "stepped")
        time.sleep(TEST_SECONDS / 2)
        stop_test(page)
        text = panel_text(page, "Baseline", "History of 6 comparable runs")
        assert "change point at run stepped" in text and "REGRESSION" in text, text
        assert "starts a slower level" in text
        trends = page.query_selector_all("#loadwatch-panel svg.trend")
        assert trends and page.query_selector("#loadwatch-panel svg.trend line.change-point")
        shot = tmp_path / "history-tab.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        report = httpx.get(f"{cluster.web_url}/stats/report", params={"download": "1"}).text
        assert 'class="trend"' in report and "change point at run <code>stepped</code>" in report


def test_the_web_ui_behind_its_login(live_service: Service, tmp_path: Path) -> None:
    secret = {"LOADWATCH_WEB_USERNAME": "ops", "LOADWATCH_WEB_PASSWORD": "s3cret-web"}
    args = [*ARGS, "--web-login"]
    with running_locust(
        live_service.url, tmp_path, args, workers=0, autostart=False, env=secret
    ) as cluster:
        assert_login_guards(cluster)


def assert_login_guards(cluster: LocustCluster) -> None:
    with httpx.Client(base_url=cluster.web_url) as client:
        assert client.get("/").status_code == 302
        for path in ("/loadwatch/runs", "/pacing", "/loadwatch/panel/baseline"):
            assert client.get(path).status_code in (302, 401), path
        wrong = client.post("/loadwatch/login", data={"username": "ops", "password": "no"})
        assert wrong.status_code == 302 and "login" in wrong.headers["location"]
        assert client.get("/loadwatch/runs").status_code in (302, 401)
        right = client.post("/loadwatch/login", data={"username": "ops", "password": "s3cret-web"})
        assert right.status_code == 302
        assert client.get("/loadwatch/runs").status_code == 200
        assert client.get("/").status_code == 200


def test_web_login_without_a_password_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.live import LOCUSTFILE, ROOT

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--web-login",
            "--web-port",
            "0",
            "--results-db",
            str(tmp_path / "r.sqlite"),
            "--exporter-port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "LOADWATCH_WEB_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr


def test_reset_mid_test_closes_the_run_and_opens_the_next(
    live_service: Service, tmp_path: Path
) -> None:
    args = ["-u", "4", "-r", "4", "-t", "14s", "--autoquit", "0", "--pacing", "0.2"]
    args += ["--user-pool", "4", "--analyst-samples", "0", "--run-label", "r"]
    with running_locust(live_service.url, tmp_path, args, workers=0) as cluster:
        wait_for_users(cluster.exporter_url, 4)
        time.sleep(4)
        assert httpx.post(f"{cluster.web_url}/stats/reset").status_code == 200
        assert cluster.master.wait(60) == 0, cluster.log("master")
    store = SQLiteStore(tmp_path / "results.sqlite")
    first, second = store.runs()
    assert (first.label, second.label) == ("r", "r-2")
    assert first.stopped_at is not None and second.stopped_at is not None
    assert first.stopped_at <= second.started_at
    # The users were all running: the new run is measured from its first moment.
    assert second.spawned_at is not None and second.spawned_at - second.started_at < 1
    for run in (first, second):
        assert ("POST", "/runs/[id]/samples") in store.endpoints(run.id), run.label

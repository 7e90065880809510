"""`make screenshots`: pictures for the README and docs/, taken with headless Chromium.

1. docs/img/locust-ui.png: the Locust web UI during a run (master + 2 workers).
2. docs/img/baseline-tab.png: the UI's Baseline tab once the second test has stopped: its
   verdict against the first, the ECDFs and the recorded runs. The second run is slowed on
   purpose (INJECT_LATENCY_MS).
3. docs/img/baseline-report.png: the same comparison in Locust's HTML report.
Everything runs on 127.0.0.1 and stops by itself. Run from the repository root:
    uv run python -m docs.screenshots
"""

import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.live import (
    CHROMIUM_FLAGS,
    ROOT,
    chromium_screenshot,
    free_port,
    headless_test_args,
    running_locust,
    running_service,
)

OUT = ROOT / "docs" / "img"
ENV = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin-password"}


def screenshot(url: str, png: Path, size: str, wait_ms: int = 6000) -> None:
    chromium_screenshot(url, png, size, wait_ms)
    print(f"wrote {png}")


def baseline_tab(web_url: str, png: Path) -> None:
    """The Baseline tab once the test has stopped and its verdict is stored."""
    deadline = time.monotonic() + 120
    while httpx.get(f"{web_url}/loadwatch/comparison").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("the test's verdict never came")
        time.sleep(1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{web_url}/?tab=baseline")
        page.wait_for_selector("#loadwatch-panel svg", timeout=30_000)
        page.screenshot(path=str(png), full_page=True)
        browser.close()
    print(f"wrote {png}")


def section_only(report: Path) -> Path:
    """The report with everything but the baseline section hidden, for a tight picture."""
    page = report.read_text(encoding="utf-8")
    hide = (
        "<style>body>*:not(#loadwatch-baseline):not(#loadwatch-baseline-summary):not(style)"
        "{display:none!important}</style>"
    )
    copy = report.with_name("section-only.html")
    copy.write_text(page.replace("</head>", hide + "</head>", 1), encoding="utf-8")
    return copy


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = str(tmp / "results.sqlite")
        common = headless_test_args(12, 20, 0.1, db)
        with running_service(ENV, port=port) as service:
            args = [*common, "--run-label", "good"]
            with running_locust(service.url, tmp / "good", args) as run:
                time.sleep(8)  # users spawned, charts drawn
                screenshot(run.web_url, OUT / "locust-ui.png", "1400,900")
                run.master.wait(90)
        slow = {**ENV, "INJECT_LATENCY_MS": "20", "INJECT_LATENCY_ROUTE": "/runs/{id}/samples"}
        with running_service(slow, port=port) as service:
            html = tmp / "candidate.html"
            args = [*common, "--run-label", "candidate", "--baseline", "good", "--html", str(html)]
            # The UI stays up after the test (--autoquit 60) for the tab's picture.
            with running_locust(service.url, tmp / "candidate", [*args, "--autoquit", "60"]) as run:
                baseline_tab(run.web_url, OUT / "baseline-tab.png")
                run.master.wait(120)
        screenshot(f"file://{section_only(html)}", OUT / "baseline-report.png", "1400,1500", 2000)


if __name__ == "__main__":
    main()

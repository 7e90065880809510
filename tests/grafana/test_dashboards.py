"""The provisioned Grafana: structure, and every panel's query against a live Prometheus
that scrapes a live service, a local Locust run with its exporter, and itself."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ADMIN
from tests.grafana.live_queries import (
    DASHBOARD_DIR,
    dashboards,
    datasources,
    load_generator,
    panels,
    run_every_query,
)
from tests.grafana.recorded_load_tests import seed_load_tests
from tests.live import (
    ROOT,
    free_port,
    local_prometheus_config,
    running_locust,
    running_prometheus,
    running_service,
    stop,
)

EXPECTED_UIDS = {
    "loadwatch-service",
    "loadwatch-load-test",
    "loadwatch-cpu-runs",
    "loadwatch-load-tests",
}
SHARED_ANNOTATIONS = {"Load test running", "Pacing changes", "CPU above threshold"}
OWN_ANNOTATIONS = {"load-tests.json": {"Change points"}}


def test_the_committed_json_and_readme_table_are_what_the_generator_renders(
    tmp_path: Path,
) -> None:
    generator = load_generator()
    readme = tmp_path / "dashboards.md"
    readme.write_text((ROOT / "docs" / "dashboards.md").read_text())
    generator.write(tmp_path, page=readme)
    for path in tmp_path.glob("*.json"):
        assert path.read_text() == (DASHBOARD_DIR / path.name).read_text(), (
            f"{path.name} is stale: run `uv run python -m grafana.dashboards`"
        )
    assert readme.read_text() == (ROOT / "docs" / "dashboards.md").read_text(), (
        "docs/dashboards.md's panel table is stale: run `uv run python -m grafana.dashboards`"
    )
    # Every panel is in the table.
    for board in dashboards().values():
        for panel in panels(board):
            assert f"| {panel['title']} |" in readme.read_text(), panel["title"]


def test_provisioning_layout() -> None:
    sources = datasources()
    prometheus, api = sources["loadwatch-prometheus"], sources["loadwatch-api"]
    assert prometheus["type"] == "prometheus" and prometheus["url"] == "http://prometheus:9090"
    assert api["type"] == "yesoreyeram-infinity-datasource"
    assert api["url"] == "http://rest_service:8000" in api["jsonData"]["allowedHosts"]
    # The token comes from the environment, as an Authorization header kept secret.
    assert api["jsonData"]["httpHeaderName1"] == "Authorization"
    assert api["secureJsonData"]["httpHeaderValue1"] == "Bearer ${GRAFANA_API_TOKEN}"
    provider = yaml.safe_load((DASHBOARD_DIR / "dashboards.yml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["folder"] == "loadwatch"


def test_dashboard_structure() -> None:
    found = dashboards()
    assert len(found) == 4
    assert {d["uid"] for d in found.values()} == EXPECTED_UIDS  # unique and stable
    known = set(datasources())
    for name, dashboard in found.items():
        text = json.dumps(dashboard)
        assert "${DS_" not in text, f"{name}: provisioning does not resolve ${{DS_...}} inputs"
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        # Every Prometheus query goes through the datasource variable, set to ours.
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["current"]["value"] == "loadwatch-prometheus" in known
        uids = known | {"${datasource}"}
        assert dashboard["graphTooltip"] == 1, name  # shared crosshair
        (link,) = dashboard["links"]
        assert link["keepTime"] and link["includeVars"] and link["tags"] == ["loadwatch"]
        annotations = dashboard["annotations"]["list"]
        assert annotations[0]["builtIn"] == 1  # Grafana's own stays
        assert {a["name"] for a in annotations[1:]} == SHARED_ANNOTATIONS | OWN_ANNOTATIONS.get(
            name, set()
        )
        assert dashboard["panels"][0]["type"] == "row"
        for panel in panels(dashboard):
            where = f"{name} / {panel.get('title')}"
            assert panel["title"] and panel["description"], where
            assert panel["fieldConfig"]["defaults"]["unit"], where
            assert panel["datasource"]["uid"] in uids, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids, where
                assert (target.get("expr") or target.get("url", "")).strip(), where
            if panel["type"] == "timeseries":
                assert panel["options"]["legend"]["displayMode"] == "table", where
        for variable in dashboard["templating"]["list"][1:]:
            assert variable["type"] == "textbox" or variable["datasource"]["uid"] in uids


def test_the_dashboards_have_the_panels_a_user_looks_for() -> None:
    titles = {
        name: {panel["title"] for panel in panels(board)} for name, board in dashboards().items()
    }
    assert {
        "CPU user, system, iowait, steal",
        "Memory and swap used",
        "Disk read and write",
        "Network received and sent",
        "Process CPU",
        "Process memory",
        "Run $run: CPU",
        "Run $run: events",
    } <= titles["cpu-runs.json"]
    variables = {
        name: [v["name"] for v in board["templating"]["list"]]
        for name, board in dashboards().items()
    }
    assert variables["load-test.json"] == ["datasource", "locust_job", "endpoint", "service_job"]
    assert variables["cpu-runs.json"] == ["datasource", "service_job", "run_id", "host", "run"]
    assert variables["service.json"] == ["datasource", "service_job", "handler"]
    assert variables["load-tests.json"] == [
        "datasource",
        "service_url",
        "endpoint",
        "load_test",
        "monitor_run",
    ]
    assert {
        "Load tests and their verdicts",
        "$endpoint: p50 over the runs",
        "Run $load_test: requests per second",
        "Run $load_test: machine under test, CPU",
    } <= titles["load-tests.json"]


GRAFANA_TOKEN = "lw_grafana-token-for-the-dashboard-test-0123456789"


def test_every_query_against_a_live_prometheus_and_the_live_service(tmp_path: Path) -> None:
    """Every panel, variable and annotation query of the three dashboards, as Grafana would
    run it: PromQL against a live Prometheus that scrapes the live service, Locust and
    itself; Infinity queries against the live service's API with the token that the
    service gave its admin from GRAFANA_API_TOKEN (as compose does)."""
    env = {
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        "GRAFANA_API_TOKEN": GRAFANA_TOKEN,
    }
    with running_service(env) as service:
        locust_args = [
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "60s",
            "--pacing",
            "0.5",
            "--user-pool",
            "4",
            "--results-db",
            "",
        ]
        with running_locust(service.url, tmp_path / "locust", locust_args, workers=0) as cluster:
            # Every figure on, and the service's own process as the watched one.
            monitor = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cpu_monitor",
                    "--url",
                    service.url,
                    "--interval",
                    "0.5",
                    "--threshold",
                    "0",
                    "--pid",
                    str(service.process.pid),
                    "--quiet",
                    "--duration",
                    "60",
                    "--grafana-url",
                    "",
                    "--tag",
                    "sut",
                ],
                env={
                    **os.environ,
                    "CPU_MONITOR_USERNAME": ADMIN[0],
                    "CPU_MONITOR_PASSWORD": ADMIN[1],
                },
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            prometheus_port = free_port()
            config = local_prometheus_config(
                {
                    "rest_service": service.url.removeprefix("http://"),
                    "locust": cluster.exporter_url.removeprefix("http://").removesuffix("/metrics"),
                    "prometheus": f"127.0.0.1:{prometheus_port}",
                }
            )
            try:
                with running_prometheus(config, tmp_path / "prometheus", prometheus_port) as prom:
                    for job in ("rest_service", "locust", "prometheus"):
                        assert prom.wait_for(f'up{{job="{job}"}} == 1'), job
                    assert prom.wait_for('locust_running{job="locust"} == 1')
                    assert prom.wait_for("loadwatch_process_cpu_percent_samples_count")
                    assert monitor.stdout is not None
                    run_id = re.search(r"as run (\w+)", monitor.stdout.readline())
                    assert run_id, "the monitor did not say its run"
                    time.sleep(6)  # a few scrapes, so that rates have points to work with
                    with httpx.Client(
                        base_url=service.url,
                        headers={"Authorization": f"Bearer {GRAFANA_TOKEN}"},
                        timeout=30,
                    ) as api:
                        # The user picks the monitor's run among those offered (the load
                        # test's runs are there too, with CPU only).
                        picked = {"run": run_id.group(1), "run_id": run_id.group(1)}
                        # The load tests loadkit recorded, the newest watched by the monitor.
                        picked["load_test"] = str(seed_load_tests(service.url))
                        picked["monitor_run"] = run_id.group(1)
                        rows = run_every_query(prom.url, api, picked)
            finally:
                stop(monitor)
    width = max(len(r[0]) for r in rows)
    print("\nquery → series (Prometheus) or rows (API)")
    for title, series, allowed_empty in rows:
        print(f"  {title:<{width}}  {series}{'  (may be empty)' if allowed_empty else ''}")
    empty = [title for title, series, allowed in rows if series == 0 and not allowed]
    assert not empty, f"queries with nothing to show: {empty}"
    found = {title.split(" [")[0]: series for title, series, _ in rows}
    # Watched with --pid here, so the process panels show it, and the threshold 0 is crossed.
    assert found["loadwatch / CPU runs / Process CPU"] > 0
    assert found["loadwatch / CPU runs / annotation CPU above threshold"] > 0
    # The load tests: their runs, the trend, the change point at r4, the machine under test.
    assert found["loadwatch / Load tests / Load tests and their verdicts"] == 6
    assert found["loadwatch / Load tests / $endpoint: p50 over the runs"] == 6
    assert found["loadwatch / Load tests / annotation Change points"] >= 1
    assert found["loadwatch / Load tests / Run $load_test: machine under test, CPU"] > 0


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARD_DIR.glob("*.json")))
def test_panels_have_units_that_fit(name: str) -> None:
    allowed = {"percent", "percentunit", "s", "ms", "reqps", "short", "bytes", "Bps"}
    for panel in panels(json.loads((DASHBOARD_DIR / name).read_text())):
        assert panel["fieldConfig"]["defaults"]["unit"] in allowed, panel["title"]


def test_quantile_legends_name_their_quantile() -> None:
    (panel,) = [
        p
        for p in panels(dashboards()["load-test.json"])
        if p["title"] == "Response time p50, p95, p99 by endpoint"
    ]
    legends = [target["legendFormat"].split()[0] for target in panel["targets"]]
    assert legends == ["p50", "p95", "p99"]


# Each panel that shows what an alert rule watches turns red where that rule fires.
ALERTED_PANELS = {
    ("service.json", "4xx and 5xx ratio"): "ServiceHighErrorRatio",
    ("service.json", "Latency p50, p95, p99 by handler"): "ServiceHighLatencyP95",
    ("load-test.json", "Failure ratio, last minute"): "LoadTestFailureRatio",
    ("load-test.json", "Service latency p50, p95, p99"): "ServiceHighLatencyP95",
    ("cpu-runs.json", "Time above the threshold"): "RunCPUAboveThreshold",
}


def _fires_at(rule: dict[str, Any]) -> float:
    """The number the rule compares with (`… > N`), or, for a rule between two series,
    the seconds of its `for:` (the time above the threshold before it fires)."""
    found = re.search(r">\s*([0-9.]+)\s*$", rule["expr"].strip())
    if found:
        return float(found.group(1))
    minutes = re.fullmatch(r"(\d+)m", rule["for"])
    assert minutes, rule
    return float(minutes.group(1)) * 60


def test_thresholds_are_the_alert_rules() -> None:
    rules = {
        rule["alert"]: rule
        for group in yaml.safe_load((ROOT / "prometheus" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    boards = dashboards()
    for (file, title), alert in ALERTED_PANELS.items():
        (panel,) = [p for p in panels(boards[file]) if p["title"] == title]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[-1] == {"color": "red", "value": _fires_at(rules[alert])}, (file, title)
    # Every other stat stays green: Grafana's own default turns red at 80, whatever the unit.
    for file, board in boards.items():
        for panel in panels(board):
            if panel["type"] == "stat" and (file, panel["title"]) not in ALERTED_PANELS:
                steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
                assert [s["color"] for s in steps] == ["green"], (file, panel["title"])

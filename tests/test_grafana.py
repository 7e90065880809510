"""The provisioned Grafana: structure, and every panel's query against a live Prometheus
that scrapes a live service, a local Locust run with its exporter, and itself."""

import importlib.util
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
from tests.live import (
    ROOT,
    free_port,
    local_prometheus_config,
    running_locust,
    running_prometheus,
    running_service,
    stop,
)

GRAFANA = ROOT / "grafana"
DASHBOARD_DIR = GRAFANA / "provisioning" / "dashboards"
EXPECTED_UIDS = {"loadwatch-service", "loadwatch-load-test", "loadwatch-cpu-runs"}


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_dashboards", GRAFANA / "dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def datasource_uids() -> set[str]:
    config = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    return {source["uid"] for source in config["datasources"]}


def test_the_committed_json_is_what_the_generator_renders(tmp_path: Path) -> None:
    generator = load_generator()
    generator.write(tmp_path)
    for path in tmp_path.glob("*.json"):
        assert path.read_text() == (DASHBOARD_DIR / path.name).read_text(), (
            f"{path.name} is stale: run `uv run python grafana/dashboards.py`"
        )


def test_provisioning_layout() -> None:
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (prometheus,) = source["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["url"] == "http://prometheus:9090"
    assert prometheus["uid"] == "loadwatch-prometheus"
    provider = yaml.safe_load((DASHBOARD_DIR / "dashboards.yml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["folder"] == "loadwatch"


def test_dashboard_structure() -> None:
    found = dashboards()
    assert len(found) == 3
    assert {d["uid"] for d in found.values()} == EXPECTED_UIDS  # unique and stable
    known = datasource_uids()
    for name, dashboard in found.items():
        text = json.dumps(dashboard)
        assert "${DS_" not in text, f"{name}: provisioning does not resolve ${{DS_...}} inputs"
        for panel in dashboard["panels"]:
            where = f"{name} / {panel.get('title')}"
            assert panel["title"] and panel["description"], where
            assert panel["fieldConfig"]["defaults"]["unit"], where
            assert panel["datasource"]["uid"] in known, where
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in known, where
                assert target["expr"].strip(), where
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] in known


def fill(expr: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        expr = expr.replace(f"${name}", value)
    return expr


def label_values(prometheus_url: str, query: str) -> list[str]:
    """What Grafana's label_values(metric{...}, label) variable query would offer."""
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
    assert match, query
    response = httpx.get(
        f"{prometheus_url}/api/v1/label/{match.group(2)}/values", params={"match[]": match.group(1)}
    ).json()
    assert response["status"] == "success", response
    return list(response["data"])


def test_every_panel_query_against_a_live_prometheus(tmp_path: Path) -> None:
    env = {"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1]}
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
                    "--quiet",
                    "--duration",
                    "60",
                    "--grafana-url",
                    "",
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
                    assert prom.wait_for("loadwatch_cpu_usage_percent")
                    time.sleep(6)  # a few scrapes, so that rates have points to work with
                    rows = run_every_panel(prom.url)
            finally:
                stop(monitor)
    width = max(len(r[0]) for r in rows)
    print("\npanel query → series")
    for title, series, allowed_empty in rows:
        print(f"  {title:<{width}}  {series}{'  (may be empty)' if allowed_empty else ''}")
    empty = [title for title, series, allowed in rows if series == 0 and not allowed]
    assert not empty, f"panels with no series: {empty}"


def run_every_panel(prometheus_url: str) -> list[tuple[str, int, bool]]:
    rows = []
    for name, dashboard in dashboards().items():
        values = {"__range": "1m"}
        for variable in dashboard["templating"]["list"]:
            offered = label_values(prometheus_url, fill(variable["definition"], values))
            assert offered, f"{name}: variable {variable['name']} offers nothing"
            values[variable["name"]] = offered[0]  # a real value, as a user would pick
        for panel in dashboard["panels"]:
            allowed_empty = "may be empty" in panel["description"]
            for target in panel["targets"]:
                expr = fill(target["expr"], values)
                response = httpx.get(
                    f"{prometheus_url}/api/v1/query", params={"query": expr}
                ).json()
                assert response["status"] == "success", f"{panel['title']}: {expr}: {response}"
                title = f"{dashboard['title']} / {panel['title']} [{target['refId']}]"
                rows.append((title, len(response["data"]["result"]), allowed_empty))
    return rows


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARD_DIR.glob("*.json")))
def test_panels_have_units_that_fit(name: str) -> None:
    allowed = {"percent", "percentunit", "s", "reqps", "short", "bytes"}
    for panel in json.loads((DASHBOARD_DIR / name).read_text())["panels"]:
        assert panel["fieldConfig"]["defaults"]["unit"] in allowed, panel["title"]


def test_quantile_legends_name_their_quantile() -> None:
    (panel,) = [
        p
        for p in dashboards()["load-test.json"]["panels"]
        if p["title"] == "Response time p50, p95, p99 by endpoint"
    ]
    legends = [target["legendFormat"].split()[0] for target in panel["targets"]]
    assert legends == ["p50", "p95", "p99"]


# Each panel that shows what an alert rule watches turns red where that rule fires.
ALERTED_PANELS = {
    ("service.json", "4xx and 5xx ratio"): "ServiceHighErrorRatio",
    ("service.json", "Latency p50, p95, p99 by handler"): "ServiceHighLatencyP95",
    ("load-test.json", "Failure ratio"): "LoadTestFailureRatio",
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
    }
    boards = dashboards()
    for (file, title), alert in ALERTED_PANELS.items():
        (panel,) = [p for p in boards[file]["panels"] if p["title"] == title]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[-1] == {"color": "red", "value": _fires_at(rules[alert])}, (file, title)
    # Every other stat stays green: Grafana's own default turns red at 80, whatever the unit.
    for file, board in boards.items():
        for panel in board["panels"]:
            if panel["type"] == "stat" and (file, panel["title"]) not in ALERTED_PANELS:
                steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
                assert [s["color"] for s in steps] == ["green"], (file, panel["title"])

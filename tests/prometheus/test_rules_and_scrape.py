"""The shipped Prometheus files: promtool checks, and a real Prometheus scraping the service."""

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ADMIN
from tests.live import (
    PROMETHEUS_DIR,
    Service,
    free_port,
    local_prometheus_config,
    prometheus_binary,
    running_prometheus,
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [prometheus_binary("promtool"), *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_configs_are_valid(config: str, tmp_path: Path) -> None:
    """Checked whole, files included: compose's config reads the metrics token from the
    secret file compose mounts, here a file of the same content in a temporary folder."""
    secret = tmp_path / "metrics_token"
    secret.write_text("m" * 40)
    text = (PROMETHEUS_DIR / config).read_text()
    if config == "prometheus.yml":
        assert "/run/secrets/metrics_token" in text
        text = text.replace("/run/secrets/metrics_token", str(secret))
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / config).write_text(text)
    result = promtool("check", "config", str(tmp_path / config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "6 rules found" in checked.stdout  # 5 alerts and the failure-ratio recording rule
    tested = promtool("test", "rules", str(PROMETHEUS_DIR / "alerts.test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_compose_and_local_configs_scrape_the_same_jobs() -> None:
    def jobs(name: str) -> list[str]:
        config = yaml.safe_load((PROMETHEUS_DIR / name).read_text())
        return [job["job_name"] for job in config["scrape_configs"]]

    assert (
        jobs("prometheus.yml")
        == jobs("prometheus.local.yml")
        == [
            "rest_service",
            "locust",
            "prometheus",
        ]
    )


def test_prometheus_scrapes_the_live_service(live_service: Service, tmp_path: Path) -> None:
    port = free_port()
    service_target = live_service.url.removeprefix("http://")
    config = local_prometheus_config(
        {
            "rest_service": service_target,
            "locust": f"127.0.0.1:{free_port()}",  # no load test running here
            "prometheus": f"127.0.0.1:{port}",
        }
    )
    with running_prometheus(config, tmp_path, port) as prometheus:
        up = prometheus.wait_for('up{job="rest_service"} == 1')
        assert up and up[0]["metric"]["instance"] == service_target
        first = prometheus.wait_for('sum(http_requests_total{job="rest_service"})')
        before = float(first[0]["value"][1])

        with httpx.Client(base_url=live_service.url) as client:
            assert (
                client.post(
                    "/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
                ).status_code
                == 200
            )
            run = client.post("/runs", json={"name": "scraped", "host": "box-1"}).json()
            for seq in range(20):
                body = {
                    "samples": [
                        {
                            "seq": seq,
                            "timestamp": datetime.now(UTC).isoformat(),
                            "cpu_percent": 42.5,
                        }
                    ]
                }
                assert client.post(f"/runs/{run['id']}/samples", json=body).status_code == 201

        rose = prometheus.wait_for(
            f'sum(http_requests_total{{job="rest_service"}}) >= {before + 22}'
        )
        assert rose, "http_requests_total did not rise in Prometheus"
        cpu = prometheus.wait_for(f'loadwatch_cpu_usage_percent{{run_id="{run["id"]}"}}')
        assert cpu, "loadwatch_cpu_usage_percent does not show the active run"
        assert cpu[0]["metric"]["host"] == "box-1"
        assert float(cpu[0]["value"][1]) == 42.5
        active = prometheus.wait_for('loadwatch_test_runs_active{job="rest_service"} >= 1')
        assert active

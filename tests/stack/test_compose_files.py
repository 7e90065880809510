"""The compose stack, checked without a Docker engine: `docker compose config`, hadolint,
and that every service's command, ports and environment match what the code reads."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cpu_monitor.options import build_parser

from rest_service.settings import Settings
from tests.live import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent


def compose_command() -> list[str]:
    """The Compose v2 binary from PyPI, straight from the venv: the same program `docker
    compose` runs as a CLI plugin, without linking anything into the home folder."""
    return [str(BIN / "docker-compose")]


def config() -> dict[str, Any]:
    result = subprocess.run(
        [
            *compose_command(),
            "--env-file",
            str(ROOT / ".env.example"),
            "--profile",
            "test",
            "--profile",
            "monitor",
            "-f",
            str(COMPOSE),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return dict(config()["services"])


def test_compose_config_is_valid(services: dict[str, Any]) -> None:
    assert set(services) == {
        "mongo",
        "rest_service",
        "functional_tests",
        "locust-master",
        "locust-worker",
        "prometheus",
        "grafana",
        "cpu-monitor",
        "preflight",
    }
    assert services["functional_tests"]["profiles"] == ["test"]
    assert services["cpu-monitor"]["profiles"] == ["monitor"]
    assert services["locust-worker"]["deploy"]["replicas"] == 2


def test_a_missing_secret_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    result = subprocess.run(
        [*compose_command(), "--env-file", os.devnull, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode != 0 and "ADMIN_PASSWORD" in result.stderr


def test_hadolint_has_nothing_to_say() -> None:
    dockerfile = DOCKERFILE
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_are_pinned_small_and_unprivileged() -> None:
    dockerfile = DOCKERFILE
    text = dockerfile.read_text()
    stage_names = set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.MULTILINE))
    for image in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
        if image in stage_names:  # built on an earlier stage of this file
            continue
        assert re.search(r":\d+\.\d+\.\d+", image), f"{image} is not pinned to a release"
        assert "slim" in image or "uv" in image, f"{image} is not a slim base"
    # Every image compose builds is a stage of its own: each runs unprivileged, without uv.
    stages = {m.group(1): m.start() for m in re.finditer(r"^FROM \S+ AS (\S+)$", text, re.M)}
    targets = set(re.findall(r"^\s+target: (\S+)$", COMPOSE.read_text(), re.MULTILINE))
    assert targets and targets <= set(stages), targets
    for target in targets:
        final_stage = text[stages[target] :].split("\nFROM ", 1)[0]
        assert re.search(r"^USER 10001$", final_stage, re.MULTILINE), f"{target} runs as root"
        assert "/usr/local/bin/uv" not in final_stage, f"build tools left in {target}"
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for part in source.split():
            assert list(ROOT.glob(part)), f"{dockerfile}: COPY {part} matches nothing"


def test_every_dependency_waits_for_health(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            if dependency == "preflight":
                assert rule["condition"] == "service_completed_successfully", name
                continue
            assert rule["condition"] == "service_healthy", (name, dependency)
            has_check = "healthcheck" in services[dependency]
            assert has_check, f"{dependency} has no healthcheck for {name} to wait on"


def env_keys(service: dict[str, Any]) -> set[str]:
    return set(service.get("environment", {}))


def test_service_environment_is_settings_the_service_knows(services: dict[str, Any]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    assert env_keys(services["rest_service"]) <= known
    rest = services["rest_service"]
    assert rest["environment"]["WEB_CONCURRENCY"] == "2"
    assert rest["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert rest["environment"]["MONGODB_URL"].startswith("mongodb://mongo:")
    assert [p["target"] for p in rest["ports"]] == [int(rest["environment"]["PORT"])]
    assert "/readyz" in " ".join(rest["healthcheck"]["test"])


def test_monitor_environment_names_its_options(services: dict[str, Any]) -> None:
    options = {a.dest.upper() for a in build_parser()._actions}
    for key in env_keys(services["cpu-monitor"]):
        assert key.startswith("CPU_MONITOR_") and key.removeprefix("CPU_MONITOR_") in options, key


def test_functional_tests_environment_is_what_they_read(services: dict[str, Any]) -> None:
    read = set(
        re.findall(
            r'os\.environ\.get\("(\w+)"', (ROOT / "functional_tests" / "conftest.py").read_text()
        )
    )
    assert env_keys(services["functional_tests"]) <= read
    assert services["functional_tests"]["environment"]["BASE_URL"] == "http://rest_service:8000"


def test_locust_environment_and_commands_are_what_loadkit_takes(services: dict[str, Any]) -> None:
    # loadkit's options, and those of loadwatch's scenario beside its locustfile.
    declared = [ROOT / "locust" / "loadkit" / "plugin.py", ROOT / "locust" / "scenario.py"]
    env_vars = {v for path in declared for v in re.findall(r'env_var="(\w+)"', path.read_text())}
    for name in ("locust-master", "locust-worker"):
        assert env_keys(services[name]) <= env_vars, name
        # The image's entrypoint with the service's command: Locust itself must accept them.
        args = ["--config", "locust/locust.conf", *services[name]["command"], "--list"]
        result = subprocess.run(
            [sys.executable, "-m", "locust", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        assert "MonitorUser" in result.stdout
    master = services["locust-master"]
    command = " ".join(master["command"])
    ports = {p["target"] for p in master["ports"]}
    assert ports == {
        int(re.search(r"--web-port=(\d+)", command).group(1)),  # type: ignore[union-attr]
        int(re.search(r"--exporter-port=(\d+)", command).group(1)),
    }  # type: ignore[union-attr]
    assert "--host=http://rest_service:8000" in command


def test_results_and_metrics_outlive_their_containers(services: dict[str, Any]) -> None:
    master = services["locust-master"]
    command = " ".join(master["command"])
    results_db = re.search(r"--results-db=(\S+)", command).group(1)  # type: ignore[union-attr]
    mounts = {m["target"]: m for m in master["volumes"]}
    # The store and the reports written beside it are in a named volume, not the container.
    target = str(Path(results_db).parent)
    assert mounts[target]["type"] == "volume" and mounts[target]["source"] == "locust-results"
    prometheus = services["prometheus"]
    tsdb = next(a for a in prometheus["command"] if a.startswith("--storage.tsdb.path="))
    data = {m["target"]: m for m in prometheus["volumes"]}[tsdb.split("=", 1)[1]]
    assert data["type"] == "volume" and data["source"] == "prometheus-data"
    assert {"locust-results", "prometheus-data"} <= set(config()["volumes"])


def test_only_the_master_holds_secrets_and_its_ui_asks_for_a_login(
    services: dict[str, Any],
) -> None:
    # Workers get their credentials from the master at test start: no password of theirs.
    assert not services["locust-worker"].get("environment")
    master = services["locust-master"]
    assert "--web-login" in master["command"]
    assert master["environment"]["LOADWATCH_WEB_PASSWORD"] == "change-me-three"
    assert master["environment"]["LOADWATCH_LOADTEST_PASSWORD"] == "change-me-four"


def test_published_ports_bind_loopback_unless_told(services: dict[str, Any]) -> None:
    published = [p for service in services.values() for p in service.get("ports", [])]
    assert published and all(p["host_ip"] == "127.0.0.1" for p in published)


def test_prometheus_targets_are_compose_services(services: dict[str, Any]) -> None:
    scrape = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            host, port = target.split(":")
            if host == "localhost":
                continue
            assert host in services, target
            exposed = {p["target"] for p in services[host].get("ports", [])}
            assert int(port) in exposed, target
    mounts = services["prometheus"]["volumes"]
    assert any(
        m["source"].endswith("/prometheus") and m["target"] == "/etc/prometheus" for m in mounts
    )
    grafana = services["grafana"]
    assert any(m["target"] == "/etc/grafana/provisioning" for m in grafana["volumes"])
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]


def test_metrics_are_closed_and_prometheus_reads_the_token_from_a_file(
    services: dict[str, Any],
) -> None:
    rest = services["rest_service"]["environment"]
    assert rest["METRICS_TOKEN"]  # required: compose refuses to start without it
    (secret,) = services["prometheus"]["secrets"]
    assert secret["source"] == "metrics_token"
    assert config()["secrets"]["metrics_token"]["environment"] == "METRICS_TOKEN"
    scrape = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in scrape["scrape_configs"] if j["job_name"] == "rest_service")
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret['source']}"
    env = {k: v for k, v in os.environ.items() if k != "METRICS_TOKEN"}
    blank = ROOT / ".env.example"
    without = [line for line in blank.read_text().splitlines() if "METRICS_TOKEN" not in line]
    result = subprocess.run(
        [*compose_command(), "--env-file", "/dev/stdin", "-f", str(COMPOSE), "config", "-q"],
        input="\n".join(without),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode != 0 and "METRICS_TOKEN" in result.stderr


def test_the_monitor_records_with_a_write_token_the_service_provisions(
    services: dict[str, Any],
) -> None:
    monitor = services["cpu-monitor"]["environment"]
    assert not any("PASSWORD" in key or "USERNAME" in key for key in monitor)
    rest = services["rest_service"]["environment"]
    assert monitor["CPU_MONITOR_TOKEN"] == rest["MONITOR_API_TOKEN"]


def test_a_placeholder_grafana_password_stops_the_stack(services: dict[str, Any]) -> None:
    """Grafana takes any password: the preflight, which Grafana waits for, refuses the
    placeholder with one line. Its command runs here as compose runs it in the image."""
    preflight = services["preflight"]
    assert services["grafana"]["depends_on"]["preflight"]["condition"] == (
        "service_completed_successfully"
    )
    value = preflight["environment"]["GRAFANA_ADMIN_PASSWORD"]
    assert value == services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    command = [sys.executable, *preflight["command"][1:]]
    for given, code in [(value, 2), ("a chosen password", 0)]:
        result = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "GRAFANA_ADMIN_PASSWORD": given},
        )
        assert result.returncode == code, result.stderr
        if code:
            (line,) = result.stderr.strip().splitlines()
            assert line == (
                "error: GRAFANA_ADMIN_PASSWORD is still the placeholder of .env.example: "
                "choose your own"
            )

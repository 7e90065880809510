"""The optional sample figures (memory, disk, network, process...) through the API: stored,
paged, exported as CSV, summarized, and exported to Prometheus per running run."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from rest_service.domain.schemas import SAMPLE_FIELDS, SampleIn, SampleOut
from tests.metrics_text import samples as metric_samples
from tests.metrics_text import value as metric_value


def stamp(offset: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=60 - offset)).isoformat()


FULL = {
    "cpu_user_percent": 30.5,
    "cpu_system_percent": 10.25,
    "cpu_iowait_percent": 2.0,
    "cpu_steal_percent": 0.5,
    "memory_used_percent": 61.5,
    "memory_available_bytes": 3_221_225_472,
    "swap_used_percent": 0.0,
    "load_1m": 1.75,
    "disk_read_bytes_per_second": 4096.0,
    "disk_write_bytes_per_second": 1_048_576.0,
    "network_receive_bytes_per_second": 2500.5,
    "network_transmit_bytes_per_second": 1200.0,
    "process_cpu_percent": 150.0,
    "process_rss_bytes": 52_428_800,
}


def test_the_field_lists_agree() -> None:
    assert set(FULL) == set(SAMPLE_FIELDS)
    assert set(SampleOut.model_fields) == set(SampleIn.model_fields)


async def new_run(client: httpx.AsyncClient, threshold: float = 50) -> str:
    response = await client.post("/runs", json={"name": "figures", "threshold": threshold})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def post(client: httpx.AsyncClient, run_id: str, samples: list[dict[str, Any]]) -> Any:
    return await client.post(f"/runs/{run_id}/samples", json={"samples": samples})


async def test_figures_are_stored_paged_exported_and_summarized(
    admin_client: httpx.AsyncClient,
) -> None:
    run_id = await new_run(admin_client)
    samples = [
        {"seq": 0, "timestamp": stamp(0), "cpu_percent": 40.0, **FULL},
        # An old client's sample: no figures at all.
        {"seq": 1, "timestamp": stamp(1), "cpu_percent": 60.0},
        {
            "seq": 2,
            "timestamp": stamp(2),
            "cpu_percent": 80.0,
            "memory_used_percent": 71.5,
            "disk_read_bytes_per_second": 0,
        },
    ]
    response = await post(admin_client, run_id, samples)
    assert response.json() == {"accepted": 3, "duplicates": 0}

    items = (await admin_client.get(f"/runs/{run_id}/samples")).json()["items"]
    assert {k: items[0][k] for k in FULL} == FULL
    assert set(items[1]) == {"seq", "timestamp", "cpu_percent", "per_cpu"}
    assert items[2]["memory_used_percent"] == 71.5 and items[2]["disk_read_bytes_per_second"] == 0

    text = (await admin_client.get(f"/runs/{run_id}/samples.csv")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["seq", "timestamp", "cpu_percent", "per_cpu", *SAMPLE_FIELDS]
    assert {k: float(rows[0][k]) for k in FULL} == pytest.approx(FULL)
    assert all(rows[1][k] == "" for k in FULL)
    assert rows[2]["memory_used_percent"] == "71.5" and rows[2]["load_1m"] == ""

    summary = (await admin_client.get(f"/runs/{run_id}")).json()["summary"]
    memory = summary["fields"]["memory_used_percent"]
    assert memory["count"] == 2 and memory["avg"] == pytest.approx(66.5)
    assert memory["max"] == 71.5 and memory["p95"] == pytest.approx(61.5 + 0.95 * 10)
    assert summary["fields"]["process_rss_bytes"]["max"] == 52_428_800
    assert "per_cpu" not in summary["fields"]


async def test_prometheus_sees_every_sample_of_a_running_run(
    admin_client: httpx.AsyncClient,
) -> None:
    run_id = await new_run(admin_client)
    values = [10.0, 90.0, 20.0, 30.0]
    batch = [
        {"seq": i, "timestamp": stamp(i), "cpu_percent": v, "memory_used_percent": v / 2}
        for i, v in enumerate(values)
    ]
    await post(admin_client, run_id, batch[:3])
    await post(admin_client, run_id, batch)  # a retry: 3 duplicates, 1 new
    text = (await admin_client.get("/metrics")).text

    def value(name: str) -> float:
        return metric_value(text, name, run_id=run_id, host="")

    assert value("loadwatch_cpu_usage_percent") == 30.0  # the latest seq
    assert value("loadwatch_cpu_usage_percent_max") == 90.0
    assert value("loadwatch_cpu_usage_percent_samples_count") == 4  # duplicates not again
    assert value("loadwatch_cpu_usage_percent_samples_sum") == sum(values)
    assert value("loadwatch_memory_used_percent_samples_sum") == sum(values) / 2
    assert value("loadwatch_memory_used_percent") == 15.0
    assert value("loadwatch_test_run_threshold_percent") == 50

    await admin_client.patch(f"/runs/{run_id}", json={"status": "finished"})
    ended = metric_samples((await admin_client.get("/metrics")).text)
    assert not any(("run_id", run_id) in labels for _, labels in ended)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("memory_used_percent", 100.5),
        ("cpu_iowait_percent", -1),
        ("swap_used_percent", "5"),
        ("load_1m", True),
        ("disk_write_bytes_per_second", -0.1),
        ("network_receive_bytes_per_second", 1e16),
        ("process_rss_bytes", -1),
        ("process_cpu_percent", 1e9),
        ("memory_available_bytes", [1]),
        ("unknown_figure", 1),
    ],
)
async def test_a_bad_figure_is_refused_with_its_name_and_nothing_is_stored(
    admin_client: httpx.AsyncClient, field: str, value: Any
) -> None:
    run_id = await new_run(admin_client)
    good = {"seq": 0, "timestamp": stamp(0), "cpu_percent": 5.0}
    response = await post(admin_client, run_id, [good, {**good, "seq": 1, field: value}])
    assert response.status_code == 422
    assert field in str(response.json()["detail"])
    assert (await admin_client.get(f"/runs/{run_id}/samples")).json()["items"] == []

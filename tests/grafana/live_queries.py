"""How the dashboards' queries run, as Grafana would run them: the provisioned JSON read
back, Grafana's variable syntax filled in, PromQL against a live Prometheus and Infinity
queries against the live service's API."""

import csv
import importlib
import io
import json
import re
import urllib.parse
from datetime import datetime
from typing import Any

import httpx
import yaml

from tests.live import ROOT

GRAFANA = ROOT / "grafana"
DASHBOARD_DIR = GRAFANA / "provisioning" / "dashboards"


def load_generator() -> Any:
    return importlib.import_module("grafana.dashboards")


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def datasources() -> dict[str, dict[str, Any]]:
    """The provisioned datasources by uid."""
    found = {}
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.yml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            found[source["uid"]] = source
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's panels, rows aside."""
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def fill(expr: str, values: dict[str, str]) -> str:
    """Grafana's variable syntax, ${name} and $name, with the values chosen."""
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        encoded = urllib.parse.quote(value, safe="")
        expr = expr.replace(f"${{{name}:percentencode}}", encoded)
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
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


def _prometheus(prometheus_url: str, expr: str) -> int:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}).json()
    assert response["status"] == "success", f"{expr}: {response}"
    return len(response["data"]["result"])


def _api_rows(api: httpx.Client, query: dict[str, Any]) -> list[dict[str, Any]]:
    """What an Infinity query reads: the answer parsed as the query says, each declared
    column checked to be there and of its declared type. Returns the rows."""
    response = api.get(query["url"])
    assert response.status_code == 200, f"{query['url']}: {response.status_code} {response.text}"
    if query["type"] == "csv":
        rows: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(response.text)))
    else:
        body = response.json()
        for key in filter(None, query["root_selector"].split(".")):
            body = body[key]
        rows = body
    for column in query["columns"]:
        name, kind = column["selector"], column["type"]
        cells = [row[name] for row in rows]  # KeyError: a column the answer lacks
        present = [cell for cell in cells if cell not in ("", None)]
        assert present or not rows, f"{query['url']}: column {name} is empty"
        for cell in present:
            if kind == "timestamp":
                datetime.fromisoformat(cell)
            elif kind == "number":
                float(cell)
            else:
                assert isinstance(cell, str), (name, cell)
    return rows


def run_every_query(
    prometheus_url: str, api: httpx.Client, pick: dict[str, str]
) -> list[tuple[str, int, bool]]:
    rows = []
    for dashboard in dashboards().values():
        values = {"__range": "1m", "datasource": "loadwatch-prometheus"}
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "datasource":
                continue
            if variable["type"] == "textbox":
                values[variable["name"]] = variable["query"]
                continue
            if variable["datasource"]["uid"] == "loadwatch-api":
                query = {**variable["query"]["infinityQuery"]}
                query["url"] = fill(query["url"], values)
                offered = [str(row["id"]) for row in _api_rows(api, query)]
                labels = {c["text"] for c in query["columns"]}
                assert labels == {"__text", "__value"}, labels
            else:
                offered = label_values(prometheus_url, fill(variable["query"]["query"], values))
            assert offered, f"{dashboard['title']}: variable {variable['name']} offers nothing"
            # A value it offers, as a user would pick.
            wanted = pick.get(variable["name"], offered[0])
            assert wanted in offered, (variable["name"], wanted, offered)
            values[variable["name"]] = wanted
        for annotation in dashboard["annotations"]["list"][1:]:
            if "target" in annotation:  # an API query
                query = {**annotation["target"], "url": fill(annotation["target"]["url"], values)}
                count = len(_api_rows(api, query))
            else:
                count = _prometheus(prometheus_url, fill(annotation["expr"], values))
            title = f"{dashboard['title']} / annotation {annotation['name']}"
            rows.append(
                (title, count, annotation["name"] not in ("Load test running", "Change points"))
            )
        for panel in panels(dashboard):
            allowed_empty = "may be empty" in panel["description"]
            for target in panel["targets"]:
                title = f"{dashboard['title']} / {panel['title']} [{target['refId']}]"
                if "expr" in target:
                    count = _prometheus(prometheus_url, fill(target["expr"], values))
                else:
                    query = {**target, "url": fill(target["url"], values)}
                    count = len(_api_rows(api, query))
                rows.append((title, count, allowed_empty))
    return rows

"""The four loadwatch dashboards, built with grafana-foundation-sdk (Grafana's own typed
builders), one module each, and rendered to the JSON that Grafana provisions.

    uv run python -m grafana.dashboards   # rewrites provisioning/dashboards/*.json

Tests check that the committed JSON is what this package renders, run every Prometheus
query (panels, variables, annotations) against a live Prometheus and every API query
against the live service, and that each panel showing what an alert rule watches turns
red where the rule fires (read from prometheus/alerts.yml, never copied).

Each dashboard has rows, a shared crosshair, links to the other two that keep the time
range and the variables, and the same annotations (``frame.py``). Variables are named alike
on every dashboard when they mean the same thing (``service_job``), so that links carry them.
"""

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from grafana.dashboards import cpu_runs, load_test, load_tests, panel_table, service

OUT = Path(__file__).resolve().parents[1] / "provisioning" / "dashboards"
PANEL_PAGE = Path(__file__).resolve().parents[2] / "docs" / "dashboards.md"
MODULES = (service, load_test, cpu_runs, load_tests)


def render() -> dict[str, dict[str, Any]]:
    """Each dashboard's JSON, by file name."""
    return {
        module.FILE: json.loads(json.dumps(module.build().build(), cls=JSONEncoder))
        for module in MODULES
    }


def write(out: Path = OUT, page: Path = PANEL_PAGE) -> list[Path]:
    """Write every dashboard's JSON into ``out`` and the panel table into ``page``."""
    rendered = render()
    paths = []
    for name, board in rendered.items():
        path = out / name
        path.write_text(json.dumps(board, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    text = page.read_text(encoding="utf-8")
    page.write_text(panel_table.rewrite(text, list(rendered.values())), encoding="utf-8")
    return [*paths, page]

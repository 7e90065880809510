"""Where each alert rule of ``prometheus/alerts.yml`` fires, so that a panel showing what
a rule watches turns red at the same value."""

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ALERTS = Path(__file__).resolve().parents[2] / "prometheus" / "alerts.yml"


@cache
def _rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def fires_at(alert: str) -> float:
    """The number the rule compares with (``… > N``); for a rule between two series, the
    seconds of its ``for:`` (the time above before it fires)."""
    rule = _rules()[alert]
    found = re.search(r">\s*([0-9.]+)\s*$", rule["expr"].strip())
    if found:
        return float(found.group(1))
    minutes = re.fullmatch(r"(\d+)m", rule["for"])
    if minutes is None:
        raise ValueError(f"{alert}: no threshold in its expression, and no for: in minutes")
    return float(minutes.group(1)) * 60

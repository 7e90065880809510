"""Every panel of every dashboard as a Markdown table, read from the rendered JSON: the
picture of them in docs/dashboards.md (Grafana does not run here to take a real one)."""

from typing import Any

START = "<!-- panels: written by grafana.dashboards -->"
END = "<!-- /panels -->"


def _series(expr: str) -> str:
    """The first series an expression reads."""
    for word in expr.replace("(", " ").split():
        name = word.split("{")[0]
        if name.startswith(("loadwatch_", "http_", "locust", "process_")):
            return f"`{name.removesuffix('_sum').removesuffix('_bucket')}`"
    return "`" + expr.split("{")[0] + "`"


def _reads(panel: dict[str, Any]) -> str:
    urls = [target["url"] for target in panel["targets"] if "url" in target]
    if urls:
        return ", ".join(f"API `{url}`" for url in urls)
    return ", ".join(sorted({_series(target["expr"]) for target in panel["targets"]}))


def _unit(panel: dict[str, Any]) -> str:
    defaults = panel["fieldConfig"]["defaults"]
    reds = [s["value"] for s in defaults["thresholds"]["steps"] if s["color"] == "red"]
    unit: str = defaults["unit"]
    return unit + (f", red from {reds[0]:g}" if reds else "")


def table(dashboards: list[dict[str, Any]]) -> str:
    lines = [
        "| dashboard | row | panel | kind | unit | reads |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for board in dashboards:
        name = board["title"].split(" / ")[1]
        row = ""
        for panel in board["panels"]:
            if panel["type"] == "row":
                row = panel["title"]
                continue
            lines.append(
                f"| {name} | {row} | {panel['title']} | {panel['type']} | {_unit(panel)} | "
                f"{_reads(panel)} |"
            )
    return "\n".join(lines)


def rewrite(text: str, dashboards: list[dict[str, Any]]) -> str:
    """``text`` with the table between its markers made anew."""
    start, end = text.index(START) + len(START), text.index(END)
    return text[:start] + "\n" + table(dashboards) + "\n" + text[end:]

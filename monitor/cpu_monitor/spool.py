"""Undelivered samples on disk (JSON lines), and `cpu-monitor --resend FILE`.

Line 1 names the service and the run (and the run's name, host and threshold, so that
``--resend --new-run`` can make a new run like it); every other line is one sample or one
run event, as the API takes them. A run with undelivered samples is left running, so that
--resend can add them and then finish it.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "cpu-monitor-spool/1"


@dataclass
class Spool:
    url: str
    run_id: str
    status: str
    samples: list[dict[str, Any]]
    events: list[dict[str, Any]]
    name: str | None = None  # of the run; spools written before these were kept lack them
    host: str | None = None
    threshold: float | None = None


def write_spool(path: Path, spool: Spool) -> None:
    header = {
        "format": FORMAT,
        "url": spool.url,
        "run_id": spool.run_id,
        "status": spool.status,
        "name": spool.name,
        "host": spool.host,
        "threshold": spool.threshold,
    }
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for item in [*spool.samples, *spool.events]:
            out.write(json.dumps(item) + "\n")


class SpoolError(Exception):
    pass


def read_spool(path: Path) -> Spool:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SpoolError(f"cannot read {path}: {error.strerror}") from None
    try:
        header = json.loads(lines[0]) if lines else {}
        items = [json.loads(line) for line in lines[1:] if line.strip()]
    except json.JSONDecodeError as error:
        raise SpoolError(f"{path} is not a cpu-monitor spool file: {error}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SpoolError(f"{path} is not a cpu-monitor spool file")
    if not all(isinstance(i, dict) and ("seq" in i or "category" in i) for i in items):
        raise SpoolError(f"{path} has a malformed line")
    return Spool(
        url=str(header["url"]),
        run_id=str(header["run_id"]),
        status=str(header["status"]),
        samples=[i for i in items if "seq" in i],
        events=[i for i in items if "seq" not in i],
        name=header.get("name"),
        host=header.get("host"),
        threshold=header.get("threshold"),
    )

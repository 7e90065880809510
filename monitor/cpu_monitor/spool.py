"""Undelivered samples on disk (JSON lines), and `cpu-monitor --resend FILE`.

Line 1 names the service and the run; every other line is one sample, as the API takes it.
A run with undelivered samples is left running, so that --resend can add them and then
finish it.
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


def write_spool(path: Path, spool: Spool) -> None:
    header = {"format": FORMAT, "url": spool.url, "run_id": spool.run_id, "status": spool.status}
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        for sample in spool.samples:
            out.write(json.dumps(sample) + "\n")


class SpoolError(Exception):
    pass


def read_spool(path: Path) -> Spool:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SpoolError(f"cannot read {path}: {error.strerror}") from None
    try:
        header = json.loads(lines[0]) if lines else {}
        samples = [json.loads(line) for line in lines[1:] if line.strip()]
    except json.JSONDecodeError as error:
        raise SpoolError(f"{path} is not a cpu-monitor spool file: {error}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SpoolError(f"{path} is not a cpu-monitor spool file")
    if not all(isinstance(s, dict) and "seq" in s for s in samples):
        raise SpoolError(f"{path} has a malformed sample line")
    return Spool(str(header["url"]), str(header["run_id"]), str(header["status"]), samples)

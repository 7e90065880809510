"""Request bodies and names for the functional tests."""

import uuid
from datetime import UTC, datetime, timedelta


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def timestamp(offset_seconds: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


def samples(seqs: range | list[int], cpu: float = 10.0) -> list[dict[str, object]]:
    """One sample per seq, 1 s apart, the last one 10 s ago."""
    start = -10.0 - len(seqs)
    return [
        {"seq": seq, "timestamp": timestamp(start + i), "cpu_percent": cpu}
        for i, seq in enumerate(seqs)
    ]

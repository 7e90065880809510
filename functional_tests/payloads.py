"""Request bodies and names for the functional tests."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx


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


def timing_chunk(
    chunk: int, ms: list[float], start: float = 1_700_000_000.0, endpoints: int = 1
) -> dict[str, object]:
    """A chunk of timings as loadkit sends them (docs/api.md has the layout): one request
    every 10 ms from ``start``, the response times ``ms``, successful, measured, endpoints
    in turn."""
    import base64
    import struct
    import zlib

    n = len(ms)
    t0 = round(start * 1e6)

    def planes(fmt: str, values: list[int]) -> bytes:
        raw = struct.pack(f"<{n}{fmt}", *values)
        width = struct.calcsize(fmt)
        return b"".join(raw[i::width] for i in range(width))

    raw = (
        planes("q", [i * 10_000 for i in range(n)])
        + planes("I", [round(v * 1000) for v in ms])
        + planes("H", [i % endpoints for i in range(n)])
        + bytes([1] * n)
    )
    return {
        "chunk": chunk,
        "count": n,
        "t0_us": t0,
        "endpoints": [["GET", f"/e{i}"] for i in range(endpoints)],
        "data": base64.b64encode(zlib.compress(raw, 9)).decode(),
    }


def bearer(base_url: str, token: str) -> httpx.Client:
    """A client that sends ``token`` as ``Authorization: Bearer``."""
    return httpx.Client(
        base_url=base_url, timeout=30.0, headers={"Authorization": f"Bearer {token}"}
    )

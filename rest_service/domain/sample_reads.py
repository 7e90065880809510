"""A run's samples read back from their blocks (samples.py has the layout): pages of JSON
items and the CSV export."""

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from rest_service.domain.samples import BLOCK, block_id
from rest_service.domain.schemas import MAX_PER_CPU_VALUES, SAMPLE_FIELDS, utc_text
from rest_service.storage.documents import collection
from rest_service.storage.models import Run, SampleBlock

# Blocks fetched per query while exporting a run: a few MB at most in memory at once.
EXPORT_WINDOW = 10
CSV_COLUMNS = ("seq", "timestamp", "cpu_percent", "per_cpu", *SAMPLE_FIELDS)


async def blocks_from(
    run: Run, first: int, window: int, fields: dict[str, int] | None = None
) -> AsyncGenerator[dict[str, Any]]:
    """The run's stored blocks from block ``first`` on, in order, ``window`` per query:
    by ``_id`` while the blocks follow one another, by the (run_id, block) index across a
    gap (seqs may jump)."""
    stored_blocks = collection(SampleBlock)
    last = run.max_seq // BLOCK
    block = first
    while block <= last:
        ids = [block_id(run.id, b) for b in range(block, min(block + window, last + 1))]
        docs = (
            await stored_blocks.find({"_id": {"$in": ids}}, fields).sort("block", 1).to_list(None)
        )
        for doc in docs:
            yield doc
        block += len(ids)
        if not docs:  # a gap: where do the run's blocks go on?
            following = stored_blocks.find(
                {"run_id": run.id, "block": {"$gte": block}}, {"block": 1}
            )
            found = await following.sort("block", 1).limit(1).to_list(None)
            if not found:
                return
            block = found[0]["block"]


def rows_of(
    doc: dict[str, Any], start_seq: int = 0
) -> list[tuple[int, int, float, dict[str, Any]]]:
    """A block's samples from ``start_seq`` on, in seq order: (seq, ts ms, cpu, the optional
    fields it carries)."""
    base = doc["block"] * BLOCK
    ts, cpu = doc["ts"], doc["cpu"]
    extra: dict[str, dict[str, Any]] = doc.get("extra") or {}
    offsets = range(max(start_seq - base, 0), BLOCK)
    if not extra:
        return [(base + o, ts[o], cpu[o], {}) for o in offsets if ts[o] is not None]
    columns = list(extra.items())
    return [
        (
            base + o,
            ts[o],
            cpu[o],
            {name: values[key] for name, values in columns if (key := str(o)) in values},
        )
        for o in offsets
        if ts[o] is not None
    ]


def block_items(doc: dict[str, Any], start_seq: int, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` of a block's samples from ``start_seq`` on, as pages show them:
    per_cpu always, the other optional fields when present."""
    if doc.get("extra"):
        return [
            {
                "seq": seq,
                "timestamp": utc_text(stamp, "Z"),
                "cpu_percent": cpu,
                "per_cpu": extra.get("per_cpu"),
                **{name: value for name, value in extra.items() if name != "per_cpu"},
            }
            for seq, stamp, cpu, extra in rows_of(doc, start_seq)[:count]
        ]
    # Most blocks hold no optional field: their items come straight from the columns.
    base = doc["block"] * BLOCK
    ts, cpu = doc["ts"], doc["cpu"]
    offsets = range(max(start_seq - base, 0), BLOCK)
    stored = [offset for offset in offsets if ts[offset] is not None][:count]
    return [
        {"seq": base + o, "timestamp": utc_text(ts[o], "Z"), "cpu_percent": cpu[o], "per_cpu": None}
        for o in stored
    ]


async def sample_page(
    run: Run, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` samples with seq > after_seq, in seq order, and the next after_seq.
    A page ends sooner when its per_cpu values reach MAX_PER_CPU_VALUES, so that its size
    stays bounded whatever the machine's CPU count."""
    start = after_seq + 1
    items: list[dict[str, Any]] = []
    values = 0
    window = (start % BLOCK + limit - 1) // BLOCK + 1  # the blocks a page without gaps spans
    blocks = blocks_from(run, start // BLOCK, window)
    try:
        async for doc in blocks:
            taken = block_items(doc, start, limit - len(items))
            if "per_cpu" in (doc.get("extra") or {}):
                for index, item in enumerate(taken):
                    values += len(item["per_cpu"] or ())
                    if values > MAX_PER_CPU_VALUES and (items or index):
                        taken = taken[:index]
                        limit = len(items) + index  # the page is full
                        break
            items += taken
            if len(items) == limit:
                return items, items[-1]["seq"]
    finally:
        await blocks.aclose()
    return items, None


NO_FIGURES = "," * len(SAMPLE_FIELDS)  # the cells of a sample with no optional field


def _csv_figures(extra: dict[str, Any]) -> str:
    if not extra:
        return NO_FIGURES
    per = extra.get("per_cpu")
    cells = [";".join(map(repr, per)) if per else ""]
    cells += [
        repr(value) if (value := extra.get(name)) is not None else "" for name in SAMPLE_FIELDS
    ]
    return ",".join(cells)


def csv_rows(doc: dict[str, Any] | None, header: bool = False) -> str:
    """CSV lines (``\r\n``, as the csv module writes them) for a block's samples, an empty
    cell for a field a sample lacks. No value ever needs quoting: numbers, an ISO time, and
    per_cpu joined with ";"."""
    lines = [",".join(CSV_COLUMNS) + "\r\n"] if header else []
    if doc is not None:
        lines += [
            f"{seq},{utc_text(stamp)},{cpu!r},{_csv_figures(extra)}\r\n"
            for seq, stamp, cpu, extra in rows_of(doc)
        ]
    return "".join(lines)


async def samples_csv(run: Run) -> AsyncIterator[str]:
    """The run's samples as CSV text chunks, header first, one chunk per block."""
    yield csv_rows(None, header=True)
    async for doc in blocks_from(run, 0, EXPORT_WINDOW):
        yield csv_rows(doc)
        # A driver hands out a fetched batch without suspending, and the emulation never
        # suspends at all: yield between blocks so that a long export shares the loop.
        await asyncio.sleep(0)

"""Samples in blocks behave as a plain map from (run, seq) to sample: a reference model
and the store, driven by the same random interleavings of writes and reads (Hypothesis),
on the embedded database and on a real wire-protocol server."""

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from motor.motor_asyncio import AsyncIOMotorClient
from pydantic_core import to_json

from embedded_mongo import embedded_client
from rest_service.domain import runs, sample_reads, samples, schemas
from rest_service.domain.schemas import SAMPLE_FIELDS, SampleIn
from rest_service.domain.summary import summarize
from rest_service.storage.connection import bind
from rest_service.storage.documents import collection
from rest_service.storage.models import Run, SampleBlock
from rest_service.telemetry.cache import MonitoredTTLCache

BASE = datetime(2026, 1, 1, tzinfo=UTC)
# Seqs that repeat, near block edges, across several blocks, and far away (gaps of whole
# blocks).
SEQS = st.one_of(
    st.integers(0, 20),
    st.integers(0, 2_100),
    st.sampled_from([999, 1_000, 1_001, 1_999, 2_000, 5_000, 123_456, 10**9]),
)
SAMPLE = st.tuples(
    SEQS,
    st.integers(0, 10_000),  # seconds after BASE: not always in seq order
    st.floats(0, 100, allow_nan=False),
    st.one_of(st.none(), st.lists(st.floats(0, 100, allow_nan=False), max_size=3)),
    st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),  # memory_used_percent
)
BATCH = st.lists(SAMPLE, min_size=1, max_size=40)
# Everything a client can do one after the other; "race" posts copies of a batch at once.
SEQUENTIAL = [
    st.tuples(st.just("post"), st.integers(0, 1), BATCH),
    st.tuples(st.just("page"), st.integers(0, 1), st.integers(-1, 2_100), st.integers(1, 1_500)),
    st.tuples(st.just("csv"), st.integers(0, 1)),
    st.tuples(st.just("summary"), st.integers(0, 1)),
    st.tuples(st.just("delete"), st.integers(0, 1)),
]
RACE = st.tuples(st.just("race"), st.integers(0, 1), BATCH, st.integers(2, 5))
OPS = st.lists(st.one_of(*SEQUENTIAL, RACE), max_size=12)

Model = dict[int, tuple[datetime, float, list[float] | None, float | None]]


def sample_in(
    seq: int, seconds: int, cpu: float, per_cpu: list[float] | None, memory: float | None = None
) -> SampleIn:
    stamp = (BASE + timedelta(seconds=seconds)).isoformat()
    body = {
        "seq": seq,
        "timestamp": stamp,
        "cpu_percent": cpu,
        "per_cpu": per_cpu,
        "memory_used_percent": memory,
    }
    return SampleIn.model_validate(body)


DATABASE = "loadwatch-test-samples"


@pytest.fixture(scope="session", params=["embedded", "real"])
def server(request: pytest.FixtureRequest) -> str | None:
    """None: the embedded database; else a real server's URL."""
    return None if request.param == "embedded" else str(request.getfixturevalue("real_server"))


async def fresh_database(server: str | None) -> None:
    """An empty database, the documents bound to it as the service binds them."""
    if server is None:
        client = embedded_client()
    else:
        client = AsyncIOMotorClient(server, tz_aware=True)
        await client.drop_database(DATABASE)
    await bind(client[DATABASE])


async def new_run(threshold: float | None = None) -> Run:
    run = Run(name="r", owner="u", started_at=BASE, threshold=threshold)
    await run.insert()
    return run


async def reload(run: Run) -> Run:
    found = await Run.get(run.id)
    assert found is not None
    return found


async def page_all(run: Run) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: int | None = -1
    while after is not None:
        page, after = await sample_reads.sample_page(run, after, 700)
        items += page
    return items


async def csv_text(run: Run) -> str:
    return "".join([chunk async for chunk in sample_reads.samples_csv(run)])


def expected_csv(model: Model) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(sample_reads.CSV_COLUMNS)
    blank = [""] * len(SAMPLE_FIELDS)
    memory_column = SAMPLE_FIELDS.index("memory_used_percent")
    for seq in sorted(model):
        stamp, cpu, per_cpu, memory = model[seq]
        figures = list(blank)
        if memory is not None:
            figures[memory_column] = repr(memory)
        writer.writerow(
            (
                seq,
                stamp.isoformat(),
                cpu,
                ";".join(str(v) for v in per_cpu) if per_cpu else "",
                *figures,
            )
        )
    return buffer.getvalue()


def run_async(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_blocks_answer_as_a_map_from_seq_to_sample(ops: list[tuple[Any, ...]]) -> None:
    run_async(lambda: check_against_the_model(ops, None))


# Without racing copies: FerretDB does not isolate concurrent conditional updates of one
# document (test_twenty_parallel_copies_are_stored_once names that gap), where MongoDB does.
SEQUENTIAL_OPS = st.lists(st.one_of(*SEQUENTIAL), max_size=12)


# Fewer examples over a socket: each one starts from an empty database.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=SEQUENTIAL_OPS)
def test_blocks_answer_as_a_map_on_a_real_server(
    ops: list[tuple[Any, ...]], real_server: str
) -> None:
    run_async(lambda: check_against_the_model(ops, real_server))


async def check_against_the_model(ops: list[tuple[Any, ...]], server: str | None) -> None:
    await fresh_database(server)
    cache: runs.SummaryCache = MonitoredTTLCache("test_summaries", maxsize=10, ttl=60)
    threshold = 50.0
    live = [await new_run(threshold), await new_run(threshold)]
    models: list[Model] = [{}, {}]
    for op in ops:
        kind, index = op[0], op[1]
        run, model = await reload(live[index]), models[index]
        if kind in ("post", "race"):
            batch = [sample_in(*s) for s in op[2]]
            copies = op[3] if kind == "race" else 1
            answers = await asyncio.gather(
                *(samples.add_samples(run, batch) for _ in range(copies))
            )
            new = {s.seq: s for s in reversed(batch) if s.seq not in model}
            for seq, s in new.items():
                model[seq] = (s.timestamp, s.cpu_percent, s.per_cpu, s.memory_used_percent)
            # However many copies race, each new seq is accepted exactly once.
            assert sum(a for a, _ in answers) == len(new)
            assert sum(d for _, d in answers) == copies * len(batch) - len(new)
        elif kind == "page":
            after, limit = op[2], op[3]
            page, next_after = await sample_reads.sample_page(run, after, limit)
            wanted = [seq for seq in sorted(model) if seq > after][:limit]
            assert [item["seq"] for item in page] == wanted
            assert next_after == (wanted[-1] if len(wanted) == limit else None)
            for item in page:
                stamp, cpu, per_cpu, memory = model[item["seq"]]
                when = datetime.fromisoformat(item["timestamp"])
                assert (when, item["cpu_percent"], item["per_cpu"]) == (
                    stamp,
                    cpu,
                    per_cpu,
                )
                assert item.get("memory_used_percent") == memory
        elif kind == "csv":
            assert await csv_text(run) == expected_csv(model)
        elif kind == "summary":
            got = await runs.run_summary(run, cache)
            points = [(samples.to_ms(model[seq][0]), model[seq][1]) for seq in sorted(model)]
            memory = [m for *_, m in model.values() if m is not None]
            ended = got.duration_seconds  # the run is open: its end is "now"
            want = summarize(
                points,
                threshold,
                BASE,
                BASE + timedelta(seconds=ended),
                {"memory_used_percent": memory},
            )
            assert got == want
        elif kind == "delete":
            await samples.delete_samples(run.id)
            await run.delete()
            live[index], models[index] = await new_run(threshold), {}
    for run, model in zip(live, models, strict=True):
        run = await reload(run)
        assert [item["seq"] for item in await page_all(run)] == sorted(model)
        # What /metrics exports: every stored sample counted once, duplicates never.
        for name, values in (
            ("cpu_usage_percent", [cpu for _, cpu, _, _ in model.values()]),
            ("memory_used_percent", [m for *_, m in model.values() if m is not None]),
        ):
            total = run.totals.get(name, {"count": 0, "sum": 0.0})
            assert total["count"] == len(values)
            assert total["sum"] == pytest.approx(sum(values), abs=1e-6)
            if values:
                assert total["max"] == max(values)


async def is_ferretdb(server: str | None) -> bool:
    if server is None:
        return False
    info = await AsyncIOMotorClient(server).admin.command("buildInfo")
    return "ferretdbVersion" in info


def test_twenty_parallel_copies_are_stored_once(server: str | None) -> None:
    async def scenario() -> None:
        await fresh_database(server)
        run = await new_run()
        batch = [sample_in(seq, seq, 1.0, None) for seq in range(990, 1_030)]
        answers = await asyncio.gather(*(samples.add_samples(run, batch) for _ in range(20)))
        accepted = sum(a for a, _ in answers)
        if accepted != 40 and await is_ferretdb(server):
            pytest.xfail(
                "FerretDB 1.24 (SQLite) does not isolate concurrent conditional updates of one "
                f"document: {accepted} of 40 seqs were taken as new (MongoDB takes each once)"
            )
        assert accepted == 40 and sum(d for _, d in answers) == 19 * 40
        again = await samples.add_samples(await reload(run), batch)
        assert again == (0, 40)
        assert [i["seq"] for i in await page_all(await reload(run))] == list(range(990, 1_030))

    run_async(scenario)


def test_samples_stored_one_per_document_are_moved_into_blocks(server: str | None) -> None:
    """A database written before blocks: its samples are read the same after start-up."""

    async def scenario() -> None:
        await fresh_database(server)
        run = await new_run(threshold=50.0)
        legacy = collection(SampleBlock).database[samples.LEGACY_COLLECTION]
        old = [
            {
                "_id": f"{run.id}:{seq}",
                "run_id": run.id,
                "seq": seq,
                "timestamp": BASE + timedelta(seconds=seq),
                "cpu_percent": float(seq % 97),
                "per_cpu": [1.0, 2.0] if seq % 2 else None,
            }
            for seq in [*range(0, 1_500), 4_000]
        ]
        await legacy.insert_many(old)
        await Run.get_motor_collection().update_one({"_id": run.id}, {"$set": {"max_seq": 4_000}})
        # A migration cut short after writing some blocks: they are not stored twice.
        first = {
            d["seq"]: samples.Row(samples.to_ms(d["timestamp"]), d["cpu_percent"], {})
            for d in old[:10]
        }
        await samples.write_block(run.id, 0, first)

        assert await samples.migrate_legacy_samples(batch=600) == len(old)
        assert await legacy.count_documents({}) == 0
        assert await samples.migrate_legacy_samples() == 0  # nothing left: a no-op
        run = await reload(run)
        model: Model = {
            d["seq"]: (d["timestamp"], d["cpu_percent"], d["per_cpu"], None) for d in old
        }
        for seq in first:  # written without their per_cpu before the cut: first one wins
            model[seq] = (model[seq][0], model[seq][1], None, None)
        assert await csv_text(run) == expected_csv(model)
        items = await page_all(run)
        assert [i["seq"] for i in items] == sorted(model)
        summary = await runs.run_summary(run, MonitoredTTLCache("t", maxsize=1, ttl=60))
        assert summary.sample_count == len(model)

    run_async(scenario)


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 253_402_300_799_999))  # 1970 to the end of 9999, in ms
def test_a_stored_time_is_written_as_json_and_csv_wrote_its_datetime(ms: int) -> None:
    when = schemas.EPOCH + ms * schemas.MILLISECOND
    assert schemas.utc_text(ms) == when.isoformat()
    assert to_json(schemas.utc_text(ms, "Z")) == to_json(when)


zones = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=14)), timezone(-timedelta(hours=9.5))]
)


@settings(max_examples=2000, deadline=None)
@given(st.datetimes(timezones=zones))
def test_a_time_is_kept_in_utc_to_the_millisecond_whatever_its_zone(when: datetime) -> None:
    try:
        expected: object = schemas.to_millis(when.astimezone(UTC))
        if expected < schemas.EPOCH:  # type: ignore[operator]
            expected = "timestamp must be after 1970-01-01"
    except OverflowError:
        expected = "timestamp is out of range"
    try:
        kept: object = schemas._utc_millis(when)
    except ValueError as error:
        kept = str(error)
    assert kept == expected
    if isinstance(kept, datetime):
        assert kept.tzinfo is UTC

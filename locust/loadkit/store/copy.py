"""A history moved from one store to another (``loadwatch-compare --db FILE --export-to
URL``, and back with ``--results-url URL --export-to FILE``): every run with its
settings, every timing (failures and ramp-up too), its kept estimates and its verdict. A
run already copied (its label and start are there) is left as it is, so an interrupted
copy is run again; a label taken by another run gets the next free one."""

from __future__ import annotations

from dataclasses import dataclass

from loadkit.core.records import RunInfo, VerdictRecord
from loadkit.store.base import ResultsStore


@dataclass
class Copied:
    runs: int = 0
    timings: int = 0
    skipped: int = 0  # there already
    relabelled: int = 0  # their label was another run's


def _settings(run: RunInfo) -> dict[str, object]:
    return {
        "started_at": run.started_at,
        "users": run.users,
        "spawn_rate": run.spawn_rate,
        "run_time": run.run_time,
        "host": run.host,
        "locustfile_hash": run.locustfile_hash,
        "pacing": run.pacing,
        "candidate_host": run.candidate_host,
    }


def copy_history(source: ResultsStore, target: ResultsStore) -> Copied:
    done = Copied()
    ids: dict[int, int] = {}  # source run id -> target run id
    for run in source.runs():
        there = target.run(run.label)
        if there is not None and there.started_at == run.started_at:
            ids[run.id] = there.id
            done.skipped += 1
            continue
        new_id, label = target.start_run(run.label, _settings(run))
        ids[run.id] = new_id
        done.relabelled += label != run.label
        if run.spawned_at is not None:
            target.mark_spawned(new_id, run.spawned_at)
        for batch in source.batches(run.id):
            done.timings += target.add_timings(new_id, batch, float("-inf"))
        if run.stopped_at is not None:
            target.finish_run(new_id, run.stopped_at, run.peak_cpu, _pacing_changes(source, run))
        done.runs += 1
        copied = target.run(label)
        kept = source.kept_estimates(run.id)
        stored = source.comparison(run.id)
        verdict = None
        if stored is not None:
            baseline = source.run(stored.baseline_label) if stored.baseline_label else None
            verdict = VerdictRecord(
                new_id,
                None if baseline is None else ids.get(baseline.id),
                stored.verdict,
                stored.json,
                stored.banner,
                stored.html,
            )
        if copied is not None and (kept or verdict):
            target.save([(copied, kept)] if kept else [], verdict)
    return done


def _pacing_changes(source: ResultsStore, run: RunInfo) -> list[tuple[float, float]]:
    """The run's changes of pacing where the store lists them (SQLite does)."""
    listed = getattr(source, "pacing_changes", None)
    return list(listed(run.id)) if callable(listed) else []

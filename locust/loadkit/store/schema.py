"""The SQLite store's tables, and what a store written by an earlier version gains when
it is opened."""

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    label TEXT UNIQUE NOT NULL,
    started_at REAL NOT NULL,
    spawned_at REAL,            -- all users spawned: timings before it are ramp-up
    stopped_at REAL,
    users INTEGER,
    spawn_rate REAL,
    run_time TEXT,
    host TEXT,
    locustfile_hash TEXT,
    first_rowid INTEGER,        -- the run's timings lie within these rowids
    last_rowid INTEGER,
    pacing REAL,                -- seconds between a user's iterations, at start
    req_per_s REAL,             -- achieved, after ramp-up
    peak_cpu REAL,              -- the busiest load generator's peak CPU %
    candidate_host TEXT         -- a duet's candidate host (its baseline's is host)
);
CREATE TABLE IF NOT EXISTS timings (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    ts REAL NOT NULL,           -- request start, Unix seconds
    request_type TEXT NOT NULL,
    name TEXT NOT NULL,
    response_time_ms REAL NOT NULL,
    success INTEGER NOT NULL,
    worker TEXT NOT NULL,
    ramp_up INTEGER NOT NULL,   -- 1: outside the measured window (ramp-up, or setup)
    side INTEGER NOT NULL DEFAULT 0  -- a duet's side: 0 the baseline, 1 the candidate
);
CREATE TABLE IF NOT EXISTS comparisons (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    baseline_id INTEGER REFERENCES runs(id),
    created_at REAL NOT NULL,
    verdict TEXT NOT NULL,      -- the one-line summary
    json TEXT NOT NULL,
    banner TEXT NOT NULL,       -- the verdict's line at the top of a report
    html TEXT NOT NULL          -- the report's section, ECDFs included
);
CREATE TABLE IF NOT EXISTS estimated_runs (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS estimates (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    request_type TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    quantile TEXT NOT NULL,     -- p50, p95, p99
    value REAL,                 -- ms; NULL: not enough timings to assess it
    se_log REAL,
    PRIMARY KEY (run_id, request_type, name, quantile)
);
CREATE TABLE IF NOT EXISTS pacing_changes (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    ts REAL NOT NULL,
    seconds REAL NOT NULL
);
"""


# Columns added after the first release: a store written before them gains them on open.
ADDED_COLUMNS = {
    "runs": {"pacing": "REAL", "req_per_s": "REAL", "peak_cpu": "REAL", "candidate_host": "TEXT"},
    "timings": {"side": "INTEGER NOT NULL DEFAULT 0"},
}


def create(db: sqlite3.Connection) -> None:
    """The tables, made once; the columns a store written before them lacks, added."""
    db.executescript(SCHEMA)
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, kind in columns.items():
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

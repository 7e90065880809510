"""Beanie documents: what is stored, and the indexes a real MongoDB needs.

Idempotency and uniqueness rest on deterministic ``_id`` values (username, token
hash, run and block of seqs), never on unique secondary indexes: the embedded emulation checks
those by scanning every document on every insert.
"""

from datetime import datetime
from typing import Any, Literal

import pymongo
from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import IndexModel

from rest_service.storage.load_test_models import LOAD_TEST_MODELS

RunStatus = Literal["running", "finished", "aborted", "abandoned"]
TokenScope = Literal["read", "write"]


class User(Document):
    id: str  # type: ignore[assignment]  # the username
    password_hash: str
    is_admin: bool = False
    created_at: datetime

    class Settings:
        name = "users"


class Session(Document):
    """A password login's session. ``session_id`` is public (listed, and what ending one
    names); the token is never stored, and its hash is never shown."""

    id: str  # type: ignore[assignment]  # SHA-256 of the token; the token itself is never stored
    username: str
    expires_at: datetime
    session_id: str = ""
    created_at: datetime | None = None
    last_used_at: datetime | None = None  # to the session cache's TTL
    address: str | None = None

    class Settings:
        name = "sessions"
        indexes = [
            # MongoDB's TTL monitor removes expired sessions; reads still check expires_at.
            IndexModel([("expires_at", pymongo.ASCENDING)], expireAfterSeconds=0),
            IndexModel([("username", pymongo.ASCENDING)]),
        ]


class ApiToken(Document):
    """A named API token for a machine client (cpu-monitor, Grafana), sent as
    ``Authorization: Bearer``. Like a session, only its SHA-256 is stored."""

    id: str  # type: ignore[assignment]  # SHA-256 of the token
    token_id: str  # public: listed, and what a revocation names
    name: str
    username: str
    created_at: datetime
    expires_at: datetime | None = None  # None: until revoked
    # "read": GET only; "write": also its owner's runs, samples and events. Tokens stored
    # before scopes existed were all-purpose: they read as "write".
    scope: TokenScope = "write"

    class Settings:
        name = "api_tokens"
        indexes = [
            IndexModel([("username", pymongo.ASCENDING)]),
            # MongoDB's TTL monitor removes expired tokens (never those without expiry).
            IndexModel([("expires_at", pymongo.ASCENDING)], expireAfterSeconds=0),
        ]


class LoginSlot(Document):
    """One of the slots of a login throttle key (``user:NAME|ADDRESS``, or ``addr:ADDRESS``
    across accounts), ``_id`` ``KEY#i``: held by an attempt whose password is being
    checked, until ``expires_at``, or by a recent failure, until it leaves the window
    (security.py)."""

    id: str  # type: ignore[assignment]
    key: str
    nonce: str
    failed: bool = False
    expires_at: datetime

    class Settings:
        name = "login_slots"
        indexes = [
            IndexModel([("key", pymongo.ASCENDING)]),
            IndexModel([("expires_at", pymongo.ASCENDING)], expireAfterSeconds=0),
        ]


class OpenRunSlot(Document):
    """One of a user's slots for running runs, ``_id`` ``OWNER#i``, held by the run
    ``run_id`` while it runs (domain/caps.py)."""

    id: str  # type: ignore[assignment]
    owner: str
    run_id: PydanticObjectId
    taken_at: datetime | None = None  # None: taken before slots said when

    class Settings:
        name = "open_run_slots"
        indexes = [
            IndexModel([("owner", pymongo.ASCENDING)]),
            IndexModel([("run_id", pymongo.ASCENDING)]),
        ]


class TokenSlot(Document):
    """One of a user's slots for API tokens, ``_id`` ``USERNAME#i``, held by the token
    whose stored id is ``token`` until it is revoked or expires (domain/caps.py)."""

    id: str  # type: ignore[assignment]
    owner: str
    token: str
    taken_at: datetime

    class Settings:
        name = "token_slots"
        indexes = [
            IndexModel([("owner", pymongo.ASCENDING)]),
            IndexModel([("token", pymongo.ASCENDING)]),
        ]


class Run(Document):
    id: PydanticObjectId = Field(default_factory=PydanticObjectId)
    name: str
    host: str | None = None
    threshold: float | None = None
    tags: list[str] = Field(default_factory=list)
    status: RunStatus = "running"
    started_at: datetime
    ended_at: datetime | None = None
    owner: str
    # Highest seq stored so far (lets sample pages be fetched by _id) and its CPU value.
    max_seq: int = -1
    last_cpu: float | None = None
    # The optional figures of that sample, and per figure (and "cpu_usage_percent") the
    # sum, count and maximum of every stored sample: what /metrics exports for the run.
    last: dict[str, float] = Field(default_factory=dict)
    totals: dict[str, dict[str, float]] = Field(default_factory=dict)
    # Events stored for the run, counted as they are inserted.
    event_count: int = 0
    # When a client last wrote to the running run (None: not since it started). A run
    # silent for longer than RUN_SILENCE_TIMEOUT_SECONDS is closed as "abandoned".
    last_seen_at: datetime | None = None

    class Settings:
        name = "runs"
        indexes = [
            IndexModel([("owner", pymongo.ASCENDING), ("started_at", pymongo.DESCENDING)]),
            IndexModel([("started_at", pymongo.DESCENDING)]),
            IndexModel([("status", pymongo.ASCENDING), ("last_seen_at", pymongo.ASCENDING)]),
        ]


class SampleBlock(Document):
    """Up to BLOCK consecutive seqs of one run's samples, in columns (see samples.py).
    ``_id`` is ``"<run id>:<block>"``; ``version`` guards every write."""

    id: str  # type: ignore[assignment]
    run_id: PydanticObjectId
    block: int  # seq // BLOCK
    samples: int  # stored in the block
    version: int
    ts: list[int | None]  # ms since the epoch, at seq % BLOCK
    cpu: list[float | None]
    extra: dict[str, dict[str, Any]] = Field(default_factory=dict)  # field -> offset -> value

    class Settings:
        name = "sample_blocks"
        # Across gaps in the seqs, and to delete a run's blocks.
        indexes = [IndexModel([("run_id", pymongo.ASCENDING), ("block", pymongo.ASCENDING)])]


class Event(Document):
    """A run event. ``_id`` is a hash of its content, so a retried batch stores nothing twice."""

    id: str  # type: ignore[assignment]
    run_id: PydanticObjectId
    category: str
    name: str
    timestamp: datetime
    data: dict[str, Any]

    class Settings:
        name = "events"
        indexes = [
            IndexModel(
                [("run_id", pymongo.ASCENDING), ("timestamp", pymongo.ASCENDING), ("_id", 1)]
            )
        ]


class Rejection(BaseModel):
    """What is kept of a refused event: when, whose, why, and the event as JSON text."""

    received_at: datetime
    run_id: str
    username: str
    category: str
    reason: str
    detail: str
    event: str  # the event's JSON text, bounded: never the client's own structure


class RejectedEvent(Document, Rejection):
    """One slot of a user's fixed ring of the last rejected events (see events.py)."""

    id: str  # type: ignore[assignment]  # "<username>:<position % capacity>"
    position: int  # in the user's ring

    class Settings:
        name = "rejected_events"
        indexes = [
            IndexModel([("received_at", pymongo.DESCENDING), ("position", pymongo.DESCENDING)]),
            IndexModel([("username", pymongo.ASCENDING), ("received_at", pymongo.DESCENDING)]),
        ]


class RevokedToken(Document):
    """A token revoked through the API (its SHA-256), so that start-up never brings it
    back (GRAFANA_API_TOKEN left unchanged after its revocation)."""

    id: str  # type: ignore[assignment]
    revoked_at: datetime

    class Settings:
        name = "revoked_tokens"


class Counter(Document):
    """A named counter, bumped atomically with $inc."""

    id: str  # type: ignore[assignment]
    value: int = 0

    class Settings:
        name = "counters"


DOCUMENT_MODELS: list[type[Document]] = [
    User,
    Session,
    ApiToken,
    LoginSlot,
    OpenRunSlot,
    TokenSlot,
    Run,
    SampleBlock,
    Event,
    RejectedEvent,
    RevokedToken,
    Counter,
    *LOAD_TEST_MODELS,
]

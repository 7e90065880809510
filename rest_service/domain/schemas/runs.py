"""Bodies of runs and their summaries."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
)

from rest_service.domain.schemas.common import Percent, Strict
from rest_service.storage.models import RunStatus


class RunIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    host: Annotated[str, Field(max_length=255)] | None = None
    threshold: Percent | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=32)] = Field(
        default_factory=list
    )


class RunPatch(Strict):
    status: Literal["finished", "aborted"]


class FieldSummary(BaseModel):
    """One optional sample field over the samples that carry it."""

    count: int
    avg: float
    p95: float
    max: float


class Summary(BaseModel):
    sample_count: int
    cpu_avg: float | None
    cpu_max: float | None
    cpu_p95: float | None
    duration_seconds: float
    time_above_threshold_seconds: float | None
    fields: dict[str, FieldSummary] = Field(
        default_factory=dict,
        description="The optional sample fields the run's samples carry (memory, disk, "
        "network, process...), each over the samples that have it.",
    )


class RunOut(BaseModel):
    id: str
    name: str
    host: str | None
    threshold: float | None
    tags: list[str]
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None
    owner: str


class RunDetail(RunOut):
    summary: Summary
    event_count: int


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None

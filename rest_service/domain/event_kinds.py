"""The registry of run event kinds: one small pydantic model per (category, name).

A new kind of event is one class here, registered with ``@kind("category", "name")``.

Measurements (``monitor``, ``loadtest``) describe a run as it happens, so they are taken
only while the run is running, like its samples; annotations (``note``, ``deploy``) may be
added to a finished run too, for the post-mortem.
"""

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from rest_service.domain.schemas import MAX_SAFE_INT, Percent


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


KINDS: dict[tuple[str, str], type[EventData]] = {}


def kind(category: str, name: str) -> Callable[[type[EventData]], type[EventData]]:
    def register(model: type[EventData]) -> type[EventData]:
        KINDS[(category, name)] = model
        return model

    return register


@kind("monitor", "threshold_exceeded")
class ThresholdExceeded(EventData):
    cpu_percent: Percent
    threshold: Percent


@kind("monitor", "threshold_cleared")
class ThresholdCleared(EventData):
    cpu_percent: Percent
    threshold: Percent
    seconds_above: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]


@kind("monitor", "memory_threshold_exceeded")
class MemoryThresholdExceeded(EventData):
    memory_used_percent: Percent
    threshold: Percent


@kind("monitor", "memory_threshold_cleared")
class MemoryThresholdCleared(EventData):
    memory_used_percent: Percent
    threshold: Percent
    seconds_above: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]


@kind("deploy", "deployed")
class Deployed(EventData):
    version: Annotated[str, Field(min_length=1, max_length=200)]
    service: Annotated[str, Field(min_length=1, max_length=200)]


@kind("note", "note")
class Note(EventData):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


@kind("loadtest", "phase")
class LoadTestPhase(EventData):
    phase: Literal["start", "spawned", "stop"]
    users: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INT)]


# Known categories: the only values the rejection metric's category label takes.
CATEGORIES = frozenset(category for category, _ in KINDS)
MEASUREMENT_CATEGORIES = frozenset({"monitor", "loadtest"})

"""Bodies of samples: the figures a sample may carry, and their pages."""

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
)

from rest_service.domain.schemas.common import (
    MAX_PER_CPU_VALUES,
    MAX_SAFE_INT,
    MAX_SAMPLES_PER_POST,
    Percent,
    Strict,
)
from rest_service.domain.schemas.times import SampleTime

# The optional figures a sample may carry besides its total CPU, each a JSON number (the
# name says the unit). They are stored, paged, exported as CSV, summarized and exported to
# Prometheus under these names. Percent of one core for a process (it may pass 100).
Rate = Annotated[float, Field(strict=True, ge=0, le=1e15, allow_inf_nan=False)]
Bytes = Annotated[float, Field(strict=True, ge=0, le=MAX_SAFE_INT, allow_inf_nan=False)]
Load = Annotated[float, Field(strict=True, ge=0, le=1e6, allow_inf_nan=False)]
CorePercent = Annotated[float, Field(strict=True, ge=0, le=100 * 4096, allow_inf_nan=False)]


class SampleIn(Strict):
    seq: Annotated[int, Field(strict=True, ge=0, le=MAX_SAFE_INT)]
    timestamp: SampleTime
    cpu_percent: Percent
    per_cpu: Annotated[list[Percent], Field(max_length=1024)] | None = None
    cpu_user_percent: Percent | None = None
    cpu_system_percent: Percent | None = None
    cpu_iowait_percent: Percent | None = None
    cpu_steal_percent: Percent | None = None
    memory_used_percent: Percent | None = None
    memory_available_bytes: Bytes | None = None
    swap_used_percent: Percent | None = None
    load_1m: Load | None = None
    disk_read_bytes_per_second: Rate | None = None
    disk_write_bytes_per_second: Rate | None = None
    network_receive_bytes_per_second: Rate | None = None
    network_transmit_bytes_per_second: Rate | None = None
    process_cpu_percent: Annotated[
        CorePercent | None,
        Field(description="CPU of the watched process tree, in percent of one core"),
    ] = None
    process_rss_bytes: Annotated[
        Bytes | None, Field(description="Resident memory of the watched process tree")
    ] = None

    def figures(self) -> dict[str, float]:
        """The optional figures it carries (read from the fields sent: ingest is a hot path,
        and most samples carry none)."""
        sent = self.__pydantic_fields_set__
        if sent.isdisjoint(FIGURE_NAMES):
            return {}
        return {
            name: value
            for name in sent & FIGURE_NAMES
            if (value := getattr(self, name)) is not None
        }


SAMPLE_FIELDS: tuple[str, ...] = tuple(
    name
    for name in SampleIn.model_fields
    if name not in ("seq", "timestamp", "cpu_percent", "per_cpu")
)
FIGURE_NAMES = frozenset(SAMPLE_FIELDS)


def _per_cpu_budget(samples: Any) -> Any:
    """Counted on the parsed JSON, before any sample is built: a body over the budget is
    refused for the cost of its parsing alone."""
    if not isinstance(samples, list):
        return samples  # the list check that follows says what is wrong
    values = sum(
        len(per_cpu)
        for s in samples
        if isinstance(s, dict) and isinstance(per_cpu := s.get("per_cpu"), list)
    )
    if values > MAX_PER_CPU_VALUES:
        raise ValueError(
            f"a batch carries at most {MAX_PER_CPU_VALUES:,} per_cpu values, not {values:,}: "
            "send fewer samples per POST"
        )
    return samples


class SamplesIn(Strict):
    samples: Annotated[
        list[SampleIn],
        Field(
            min_length=1,
            max_length=MAX_SAMPLES_PER_POST,
            description=f"at most {MAX_SAMPLES_PER_POST:,} samples, together at most "
            f"{MAX_PER_CPU_VALUES:,} per_cpu values",
        ),
        BeforeValidator(_per_cpu_budget),
    ]


class SamplesAccepted(BaseModel):
    accepted: int
    duplicates: int


class SampleOut(SampleIn):
    """A stored sample, as it was sent; each optional figure appears only when it was."""


class SamplePage(BaseModel):
    items: list[SampleOut]
    next_after_seq: int | None

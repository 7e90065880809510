"""What every request and response body shares: the strict base that refuses unknown
fields, the error body, and the limits that bound a request."""

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

# The largest integer a JSON number carries exactly in every client (JavaScript's
# Number.MAX_SAFE_INTEGER); below MongoDB's 64-bit limit too. Seqs and counts stop here.
MAX_SAFE_INT = 2**53 - 1
MAX_SAMPLES_PER_POST = 10_000
MAX_PAGE = 10_000
# per_cpu values in one POST of samples, and in one page: what bounds a request's memory
# (a per_cpu value is a few bytes of JSON and tens of bytes once parsed). 256 samples of a
# 1,024-CPU machine, or 10,000 of a 26-CPU one.
MAX_PER_CPU_VALUES = 262_144

# Strict: a JSON number only; true or "50" is refused, not read as 1.0 or 50.0.
Percent = Annotated[float, Field(strict=True, ge=0, le=100, allow_inf_nan=False)]


class ErrorOut(BaseModel):
    """Every error but 422: ``{"detail": "what went wrong"}``."""

    detail: str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def whole(value: object) -> object:
    """JSON has one number type: 30.0 is the integer 30, as JSON Schema reads it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value

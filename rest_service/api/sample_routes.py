from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json

from rest_service.api.deps import CurrentUser
from rest_service.api.params import BODY, NOT_FOUND, NOT_LOGGED_IN, NOT_RUNNING, RunId
from rest_service.domain import runs, samples
from rest_service.domain.schemas import (
    MAX_PAGE,
    MAX_PER_CPU_VALUES,
    MAX_SAFE_INT,
    SamplePage,
    SamplesAccepted,
    SamplesIn,
)

router = APIRouter(prefix="/runs/{id}", tags=["samples"], responses=NOT_LOGGED_IN)


@router.post(
    "/samples",
    status_code=status.HTTP_201_CREATED,
    response_model=SamplesAccepted,
    responses={**NOT_FOUND, **NOT_RUNNING, **BODY},
)
async def add_samples(run_id: RunId, body: SamplesIn, user: CurrentUser) -> SamplesAccepted:
    run = await runs.get_run(run_id, user)
    accepted, duplicates = await samples.add_samples(run, body.samples)
    return SamplesAccepted(accepted=accepted, duplicates=duplicates)


@router.get("/samples", response_model=SamplePage, responses=NOT_FOUND)
async def list_samples(
    run_id: RunId,
    user: CurrentUser,
    after_seq: Annotated[int, Query(ge=-1, le=MAX_SAFE_INT)] = -1,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_PAGE,
            description=f"samples per page; a page ends sooner once it holds "
            f"{MAX_PER_CPU_VALUES:,} per_cpu values (next_after_seq says where to go on)",
        ),
    ] = 1000,
) -> Response:
    run = await runs.get_run(run_id, user)
    docs, next_after_seq = await samples.sample_page(run, after_seq, limit)
    # The items are built from stored, validated values: encoded as they are, where
    # response_model would validate every one of them twice more.
    body = to_json({"items": docs, "next_after_seq": next_after_seq})
    return Response(body, media_type="application/json")


@router.get(
    "/samples.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
async def samples_csv(run_id: RunId, user: CurrentUser) -> StreamingResponse:
    run = await runs.get_run(run_id, user)
    return StreamingResponse(
        samples.samples_csv(run),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run.id}-samples.csv"'},
    )

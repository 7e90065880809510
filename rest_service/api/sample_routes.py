import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json

from rest_service.api.body_rules import is_json
from rest_service.api.deps import CurrentUser, current_user
from rest_service.api.direct_route import direct
from rest_service.api.params import BODY, NOT_FOUND, NOT_LOGGED_IN, NOT_RUNNING, RunId
from rest_service.domain import runs, sample_reads, samples
from rest_service.domain.schemas import (
    MAX_PAGE,
    MAX_PER_CPU_VALUES,
    MAX_SAFE_INT,
    SamplePage,
    SamplesAccepted,
    SamplesIn,
)

router = APIRouter(prefix="/runs/{id}", tags=["samples"], responses=NOT_LOGGED_IN)


async def add_samples(run_id: RunId, body: SamplesIn, user: CurrentUser) -> SamplesAccepted:
    run = await samples.writable_run(run_id, user)
    accepted, duplicates = await samples.add_samples(run, body.samples)
    return SamplesAccepted(accepted=accepted, duplicates=duplicates)


async def add_samples_directly(request: Request) -> Response | None:
    """add_samples for a logged-in user's well-formed body, without FastAPI's dependency
    solving; None for anything else, which FastAPI then answers (and refuses) itself."""
    if not is_json(request.headers.get("content-type", "").encode()):
        return None
    raw = await request.body()  # a body over the limits is refused here, as FastAPI would
    try:
        user = await current_user(request)
        body = SamplesIn.model_validate(json.loads(raw))
    except Exception:  # no user, or a body that does not decode or validate: FastAPI answers
        return None
    answer = await add_samples(request.path_params["id"], body, user)
    return Response(to_json(answer), status_code=201, media_type="application/json")


router.add_api_route(
    "/samples",
    add_samples,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=SamplesAccepted,
    responses={**NOT_FOUND, **NOT_RUNNING, **BODY},
    route_class_override=direct(add_samples_directly),
)


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
    docs, next_after_seq = await sample_reads.sample_page(run, after_seq, limit)
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
        sample_reads.samples_csv(run),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run.id}-samples.csv"'},
    )

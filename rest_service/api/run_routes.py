from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from rest_service.api.deps import CurrentUser, SettingsDep, SummaryCacheDep
from rest_service.api.params import BODY, NOT_FOUND, NOT_LOGGED_IN, NOT_RUNNING, RunId
from rest_service.domain import runs
from rest_service.domain.schemas import ErrorOut, RunDetail, RunIn, RunOut, RunPage, RunPatch
from rest_service.storage.models import Run, RunStatus

router = APIRouter(prefix="/runs", tags=["runs"], responses=NOT_LOGGED_IN)


def run_out(run: Run) -> RunOut:
    return RunOut(
        id=str(run.id),
        name=run.name,
        host=run.host,
        threshold=run.threshold,
        tags=run.tags,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        owner=run.owner,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses={
        **BODY,
        409: {"description": "The user has MAX_OPEN_RUNS_PER_USER running", "model": ErrorOut},
    },
)
async def create_run(body: RunIn, user: CurrentUser, settings: SettingsDep) -> RunOut:
    return run_out(await runs.create_run(user, body, settings.max_open_runs_per_user))


@router.get("", response_model=RunPage)
async def list_runs(
    user: CurrentUser,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RunPage:
    items, next_cursor = await runs.list_runs(user, status, limit, cursor)
    return RunPage(items=[run_out(r) for r in items], next_cursor=next_cursor)


@router.get("/{id}", response_model=RunDetail, responses=NOT_FOUND)
async def get_run(run_id: RunId, user: CurrentUser, summaries: SummaryCacheDep) -> RunDetail:
    run = await runs.get_run(run_id, user)
    summary = await runs.run_summary(run, summaries)
    return RunDetail(**run_out(run).model_dump(), summary=summary, event_count=run.event_count)


@router.patch(
    "/{id}",
    response_model=RunOut,
    responses={**NOT_FOUND, **NOT_RUNNING, **BODY},
)
async def end_run(run_id: RunId, body: RunPatch, user: CurrentUser) -> RunOut:
    return run_out(await runs.end_run(run_id, user, body.status))


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_run(run_id: RunId, user: CurrentUser, summaries: SummaryCacheDep) -> Response:
    await runs.delete_run(run_id, user, summaries)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

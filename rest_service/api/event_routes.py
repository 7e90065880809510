from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from rest_service.api.deps import AdminUser, CurrentUser
from rest_service.api.params import BODY, NOT_ADMIN, NOT_FOUND, NOT_LOGGED_IN, RunId
from rest_service.domain import events, runs
from rest_service.domain.schemas import (
    ErrorOut,
    EventOut,
    EventPage,
    EventsAccepted,
    EventsRefused,
    QueryTime,
    RejectedEventOut,
    RejectedEventPage,
)

router = APIRouter(tags=["events"], responses=NOT_LOGGED_IN)


# The body is read raw and checked by events.add_events in one pydantic-core call; a
# declared body would be parsed into Python objects first. Its schema is still documented,
# each registered kind spelled out; app.py adds the kinds to the document's components.
JSON = "application/json"
_BATCH_SCHEMA, SCHEMA_COMPONENTS = events.batch_json_schema()
_EVENTS_BODY = {"required": True, "content": {JSON: {"schema": _BATCH_SCHEMA}}}


@router.post(
    "/runs/{id}/events",
    status_code=status.HTTP_201_CREATED,
    response_model=EventsAccepted,
    responses={
        **NOT_FOUND,
        **BODY,
        409: {
            "description": "A measurement event for a run that is not running",
            "model": ErrorOut,
        },
        422: {
            "description": "Not a batch (FastAPI's form), or events rejected (each listed as "
            "{index, reason, msg}); none stored",
            "model": EventsRefused,
        },
    },
    openapi_extra={"requestBody": _EVENTS_BODY},
)
async def add_events(run_id: RunId, request: Request, user: CurrentUser) -> Response:
    accepted = EventsAccepted(accepted=await events.add_events(run_id, await request.body(), user))
    # Answered as ready JSON: FastAPI would check the model it was just given again.
    return Response(accepted.model_dump_json(), status.HTTP_201_CREATED, media_type=JSON)


@router.get(
    "/runs/{id}/events",
    response_model=EventPage,
    responses=NOT_FOUND,
)
async def list_events(
    run_id: RunId,
    user: CurrentUser,
    category: Annotated[str | None, Query(max_length=64)] = None,
    name: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[QueryTime | None, Query(description="ISO-8601 with a zone; inclusive")] = None,
    until: Annotated[QueryTime | None, Query(description="ISO-8601 with a zone; exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> EventPage:
    run = await runs.get_run(run_id, user)
    docs, next_cursor = await events.event_page(run, category, name, since, until, limit, cursor)
    return EventPage(items=[_event_out(d) for d in docs], next_cursor=next_cursor)


def _event_out(doc: dict[str, Any]) -> EventOut:
    return EventOut(
        id=doc["_id"],
        category=doc["category"],
        name=doc["name"],
        timestamp=doc["timestamp"],
        data=doc["data"],
    )


@router.get(
    "/events/rejected",
    response_model=RejectedEventPage,
    responses=NOT_ADMIN,
)
async def rejected_events(
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=events.REJECTED_CAPACITY)] = 100,
    username: Annotated[str | None, Query(max_length=64, description="one user's only")] = None,
) -> RejectedEventPage:
    """The last rejected events, newest first, with the reason each was refused. Each
    user's last 1,000 are kept, whatever the others send."""
    docs = await events.rejected_events(limit, username)
    return RejectedEventPage(items=[RejectedEventOut.model_validate(d) for d in docs])

"""Load tests: the runs loadkit records here (``--results-url``), their timings in chunks,
their kept estimates and comparisons, and what the Load tests dashboard reads of them.
A ``read`` token lists and reads; recording needs a ``write`` token; each owner's runs are
its own (an admin may read another owner's with ``owner``)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import HTMLResponse

from rest_service.api.deps import CurrentUser
from rest_service.api.params import BODY, NOT_LOGGED_IN, Answers, error_answer
from rest_service.domain import (
    load_test_chunks,
    load_test_results,
    load_tests,
    machine_under_test,
)
from rest_service.domain.schemas.common import MAX_SAFE_INT
from rest_service.domain.schemas.load_tests import (
    MAX_LABEL,
    ChangePointOut,
    ChunkAccepted,
    ChunkIn,
    ChunkPage,
    ComparisonOut,
    EndpointOut,
    EstimatesOut,
    LoadTestClose,
    LoadTestIn,
    LoadTestOut,
    LoadTestSpawned,
    MonitorRunOut,
    ResultsIn,
    TimelinePoint,
    TrendPoint,
)

router = APIRouter(prefix="/load-tests", tags=["load tests"], responses=NOT_LOGGED_IN)

TestId = Annotated[
    int, Path(alias="id", ge=1, le=MAX_SAFE_INT, description="The load test's number")
]
Owner = Annotated[
    str | None,
    Query(max_length=64, description="whose load tests (an admin only; default: the caller's)"),
]
NOT_FOUND: Answers = {404: error_answer("No such load test, or not yours")}
OTHER_OWNER: Answers = {404: error_answer("No such owner, or not yours to read")}
NOT_RUNNING: Answers = {409: error_answer("The load test is closed")}
# The page of a stored comparison: its HTML came from a client, so the page may show it
# and nothing else (no script, no request anywhere, not framed by another site).
REPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LoadTestOut,
    responses={**BODY, 409: error_answer("Every label from LABEL to LABEL-1000 is taken")},
)
async def create_load_test(body: LoadTestIn, user: CurrentUser) -> LoadTestOut:
    """A running load test, labelled ``label`` or, when the owner has that label, the next
    free one (``label-2``, …): the answer says which."""
    return load_tests.out(await load_tests.create(user, body))


@router.get(
    "",
    response_model=list[LoadTestOut],
    responses={404: error_answer("No such owner, or not yours; or no such comparable_to")},
)
async def list_load_tests(
    user: CurrentUser,
    owner: Owner = None,
    label: Annotated[str | None, Query(max_length=MAX_LABEL)] = None,
    comparable_to: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_SAFE_INT,
            description="the closed runs before this one with its "
            "locustfile, users, host and pacing, newest first",
        ),
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_SAFE_INT, description="oldest first, after this number")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> list[LoadTestOut]:
    found = await load_tests.listed(user, owner, label, comparable_to, after, limit)
    return [load_tests.out(test) for test in found]


@router.get("/owners", response_model=list[str])
async def list_owners(user: CurrentUser) -> list[str]:
    """Whose load tests the caller may read (an admin: everyone's)."""
    return await load_tests.owners(user)


@router.get("/endpoints", response_model=list[EndpointOut], responses=OTHER_OWNER)
async def list_endpoints(user: CurrentUser, owner: Owner = None) -> list[EndpointOut]:
    """Every endpoint with kept estimates in the owner's runs, "METHOD name"."""
    return await load_test_results.endpoints(user, owner)


def _split(endpoint: str) -> tuple[str, str]:
    method, _, name = endpoint.partition(" ")
    return method, name


Endpoint = Annotated[str, Query(min_length=1, max_length=2_000, description='"METHOD name"')]


@router.get("/trend", response_model=list[TrendPoint], responses=OTHER_OWNER)
async def endpoint_trend(
    user: CurrentUser,
    endpoint: Endpoint,
    owner: Owner = None,
    locustfile_hash: Annotated[str | None, Query(max_length=128)] = None,
) -> list[TrendPoint]:
    """p50, p95 and p99 of an endpoint over the owner's runs, with their 95 % intervals."""
    return await load_test_results.trend(user, owner, *_split(endpoint), locustfile_hash)


@router.get("/change-points", response_model=list[ChangePointOut], responses=OTHER_OWNER)
async def endpoint_change_points(
    user: CurrentUser, endpoint: Endpoint, owner: Owner = None
) -> list[ChangePointOut]:
    """The endpoint's change points, as the newest history comparison found them."""
    return await load_test_results.change_points(user, owner, *_split(endpoint))


@router.post("/results", status_code=status.HTTP_204_NO_CONTENT, responses={**BODY, **NOT_FOUND})
async def save_results(body: ResultsIn, user: CurrentUser) -> Response:
    """A comparison's result, in one write: the estimates computed for it, and the verdict."""
    await load_test_results.save(user, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/runs/{id}", response_model=LoadTestOut, responses=NOT_FOUND)
async def get_load_test(test_id: TestId, user: CurrentUser) -> LoadTestOut:
    return load_tests.out(await load_tests.get(test_id, user, load_tests.LISTED))


@router.patch(
    "/runs/{id}", response_model=LoadTestOut, responses={**NOT_FOUND, **NOT_RUNNING, **BODY}
)
async def mark_spawned(test_id: TestId, body: LoadTestSpawned, user: CurrentUser) -> LoadTestOut:
    """Every user has spawned: timings before this are ramp-up."""
    return load_tests.out(await load_tests.spawned(test_id, user, body.spawned_at))


@router.post(
    "/runs/{id}/close", response_model=LoadTestOut, responses={**NOT_FOUND, **NOT_RUNNING, **BODY}
)
async def close_load_test(test_id: TestId, body: LoadTestClose, user: CurrentUser) -> LoadTestOut:
    """Close the run (finished, or incomplete when timings never arrived)."""
    return load_tests.out(await load_tests.close(test_id, user, body))


@router.delete("/runs/{id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_load_test(test_id: TestId, user: CurrentUser) -> Response:
    """The run with its label, timings, estimates and comparison."""
    await load_tests.delete(test_id, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/runs/{id}/chunks",
    status_code=status.HTTP_201_CREATED,
    response_model=ChunkAccepted,
    responses={**NOT_FOUND, **NOT_RUNNING, **BODY},
)
async def add_chunk(test_id: TestId, body: ChunkIn, user: CurrentUser) -> ChunkAccepted:
    """A chunk of timings (see the layout in docs/api.md); one sent again is stored once."""
    test = await load_tests.get(test_id, user, load_tests.LISTED)
    stored, duplicate = await load_test_chunks.add(test, body)
    return ChunkAccepted(stored=stored, duplicate=duplicate)


@router.get("/runs/{id}/chunks", response_model=ChunkPage, responses=NOT_FOUND)
async def list_chunks(
    test_id: TestId,
    user: CurrentUser,
    after: Annotated[int, Query(ge=-1, le=MAX_SAFE_INT)] = -1,
) -> ChunkPage:
    test = await load_tests.get(test_id, user, load_tests.LISTED)
    items, next_after = await load_test_chunks.page(test, after)
    return ChunkPage(items=items, next_after=next_after)


@router.get("/runs/{id}/monitor-runs", response_model=list[MonitorRunOut], responses=NOT_FOUND)
async def machine_under_test_runs(test_id: TestId, user: CurrentUser) -> list[MonitorRunOut]:
    """The cpu-monitor runs that recorded the machine under test during the run (its
    ``monitor_tag``), as the run's host CPU was read from them."""
    test = await load_tests.get(test_id, user, load_tests.LISTED)
    runs = await machine_under_test.monitor_runs((test.host_cpu or {}).get("runs", []))
    return [MonitorRunOut(id=str(run.id), name=run.name) for run in runs]


@router.get("/runs/{id}/estimates", response_model=EstimatesOut, responses=NOT_FOUND)
async def kept_estimates(test_id: TestId, user: CurrentUser) -> EstimatesOut:
    return await load_test_results.estimates(test_id, user)


@router.get("/runs/{id}/comparison", response_model=ComparisonOut, responses=NOT_FOUND)
async def stored_comparison(test_id: TestId, user: CurrentUser) -> ComparisonOut:
    return await load_test_results.comparison(test_id, user)


@router.get("/runs/{id}/timeline", response_model=list[TimelinePoint], responses=NOT_FOUND)
async def requests_per_second(test_id: TestId, user: CurrentUser) -> list[TimelinePoint]:
    """The run's requests in each second."""
    return await load_test_results.timeline(test_id, user)


@router.get(
    "/runs/{id}/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **NOT_FOUND},
)
async def report_page(test_id: TestId, user: CurrentUser) -> HTMLResponse:
    """The stored comparison as a page (a dashboard's link to each run's report)."""
    page = await load_test_results.report_html(test_id, user)
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_POLICY})

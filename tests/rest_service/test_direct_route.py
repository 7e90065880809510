"""POST /runs/{id}/samples answers its common request without FastAPI's dependency
solving (api/direct_route.py): every answer must be the one FastAPI gives on its own."""

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies import utils as dependency_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_service.api import sample_routes
from rest_service.api.direct_route import DirectRoute
from rest_service.app import create_app
from rest_service.settings import Settings
from tests.conftest import ADMIN

NOW = datetime.now(UTC)

values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-5, 2**64),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(st.floats(0, 100), max_size=3),
)
times = st.one_of(
    st.integers(-100, 100).map(lambda s: (NOW + timedelta(seconds=s)).isoformat()),
    st.sampled_from(["1700000000", "2026-13-01T00:00:00Z", "1969-12-31T23:59:59Z", ""]),
    st.integers(0, 2**40),
)
valid_samples = st.fixed_dictionaries(
    {
        "seq": st.integers(0, 3),
        "timestamp": st.integers(-100, 0).map(lambda s: (NOW + timedelta(seconds=s)).isoformat()),
        "cpu_percent": st.floats(0, 100),
    },
    optional={"per_cpu": st.lists(st.floats(0, 100), max_size=3), "load_1m": st.floats(0, 9)},
)
samples = st.one_of(
    valid_samples,
    st.fixed_dictionaries(
        {"seq": st.one_of(st.integers(-1, 3), values), "timestamp": times, "cpu_percent": values},
        optional={"per_cpu": values, "memory_used_percent": values, "bogus": values},
    ),
)
valid_bodies = st.builds(
    lambda s: json.dumps({"samples": s}).encode(), st.lists(valid_samples, min_size=1, max_size=3)
)
bodies = st.one_of(
    valid_bodies,
    st.builds(lambda s: json.dumps({"samples": s}).encode(), st.lists(samples, max_size=3)),
    st.builds(lambda s: json.dumps(s).encode(), st.one_of(samples, values)),
    st.sampled_from([b"", b"{", b'{"samples": NaN}', b"\xff", b"[" * 5000 + b"]" * 5000]),
)
# The first request is well formed (the shortcut answers it); then anything.
requests = st.builds(
    lambda first, rest: [("cookie", "running", first, "application/json"), *rest],
    valid_bodies,
    st.lists(
        st.tuples(
            st.sampled_from(["cookie", "none", "read token", "write token", "bad token"]),
            st.sampled_from(["running", "finished", "missing", "malformed"]),
            bodies,
            st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]),
        ),
        max_size=6,
    ),
)


async def _answers(plan: list[tuple[str, str, bytes, str]]) -> list[tuple[int, Any]]:
    """The answers of a fresh app, on a fresh database, to the requests of ``plan``."""
    settings = Settings(
        mongodb_url="mongomock://",
        bcrypt_rounds=4,
        admin_username=ADMIN[0],
        admin_password=ADMIN[1],  # type: ignore[arg-type]
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as admin:
            await admin.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]})
            tokens = {
                f"{scope} token": (
                    await admin.post("/auth/tokens", json={"name": scope, "scope": scope})
                ).json()["token"]
                for scope in ("read", "write")
            }
            runs = {
                state: (await admin.post("/runs", json={"name": state})).json()["id"]
                for state in ("running", "finished")
            }
            await admin.patch(f"/runs/{runs['finished']}", json={"status": "finished"})
            runs |= {"missing": "0123456789abcdef01234567", "malformed": "not-an-id"}
            answers = []
            for auth, run, body, content_type in plan:
                headers = {"content-type": content_type}
                if auth.endswith("token"):
                    headers["authorization"] = f"Bearer {tokens.get(auth, 'nope')}"
                cookies = admin.cookies if auth == "cookie" else None
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver", cookies=cookies
                ) as client:
                    answer = await client.post(
                        f"/runs/{runs[run]}/samples", content=body, headers=headers
                    )
                answers.append((answer.status_code, answer.json()))
            return answers


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
async def test_every_answer_is_the_one_fastapi_gives(
    plan: list[tuple[str, str, bytes, str]],
) -> None:
    route_class = next(
        type(route) for route in sample_routes.router.routes if isinstance(route, DirectRoute)
    )
    shortcut = route_class.shortcut
    with_shortcut = await _answers(plan)

    async def never(request: Any) -> None:
        return None

    route_class.shortcut = staticmethod(never)  # type: ignore[assignment]
    try:
        fastapi_alone = await _answers(plan)
    finally:
        route_class.shortcut = staticmethod(shortcut)  # type: ignore[assignment]
    assert with_shortcut == fastapi_alone


async def test_a_well_formed_post_skips_dependency_solving(
    admin_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = (await admin_client.post("/runs", json={"name": "t"})).json()["id"]
    solved: list[str] = []
    real: Callable[..., Awaitable[Any]] = dependency_utils.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await real(*args, **kwargs)

    monkeypatch.setattr("fastapi.routing.solve_dependencies", counting)
    body = {"samples": [{"seq": 0, "timestamp": NOW.isoformat(), "cpu_percent": 5.0}]}
    answer = await admin_client.post(f"/runs/{run}/samples", json=body)
    assert (answer.status_code, answer.json()) == (201, {"accepted": 1, "duplicates": 0})
    assert solved == []
    # A refused one is FastAPI's own, with its dependencies solved.
    answer = await admin_client.post(f"/runs/{run}/samples", json={"samples": []})
    assert answer.status_code == 422 and solved == [f"/runs/{run}/samples"]

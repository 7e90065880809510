"""GRAFANA_API_TOKEN only reads: every write route refuses it. A new value revokes the old
one, and a token revoked through the API stays revoked when the service starts again, on a
real server (each app below is a restart of the service on the same database)."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from bson import ObjectId

from rest_service.app import create_app
from rest_service.settings import Settings
from tests.conftest import ADMIN

FIRST, SECOND = "lw_" + "a" * 40, "lw_" + "b" * 40
PUBLIC = {("POST", "/auth/login"), ("POST", "/auth/logout")}
LOGIN = {"username": ADMIN[0], "password": ADMIN[1]}


@asynccontextmanager
async def service(
    url: str, database: str, token: str, monitor: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        monitor_api_token=monitor,  # type: ignore[arg-type]
        mongodb_url=url,
        mongodb_db=database,
        bcrypt_rounds=4,
        admin_username=ADMIN[0],
        admin_password=ADMIN[1],  # type: ignore[arg-type]
        grafana_api_token=token,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_grafana_token_reads_and_never_writes(real_server: str) -> None:
    database = f"loadwatch-test-grafana-{ObjectId()}"
    async with service(real_server, database, FIRST) as api:
        assert (await api.post("/auth/login", json=LOGIN)).status_code == 200
        run = (await api.post("/runs", json={"name": "seen by grafana"})).json()
        api.cookies.clear()
        assert (await api.get("/runs", headers=bearer(FIRST))).status_code == 200
        assert (
            await api.get(f"/runs/{run['id']}/samples", headers=bearer(FIRST))
        ).status_code == 200
        schema = (await api.get("/openapi.json")).json()
        tried = 0
        for path, operations in schema["paths"].items():
            for method in operations:
                if method == "get" or (method.upper(), path) in PUBLIC:
                    continue
                concrete = re.sub(r"\{[^}]+\}", run["id"], path)
                answer = await api.request(method.upper(), concrete, json={}, headers=bearer(FIRST))
                assert answer.status_code in (401, 403), (method, path, answer.text)
                tried += 1
        assert tried >= 8  # runs (3), samples, events, users, tokens (2)
        # Nothing was changed by those attempts.
        await api.post("/auth/login", json=LOGIN)
        assert (await api.get(f"/runs/{run['id']}")).json()["status"] == "running"
        (held,) = (await api.get("/auth/tokens")).json()
        assert held["name"] == "grafana" and held["scope"] == "read"

    # A new value: the old token is revoked, the new one reads.
    async with service(real_server, database, SECOND) as api:
        assert (await api.get("/runs", headers=bearer(FIRST))).status_code == 401
        assert (await api.get("/runs", headers=bearer(SECOND))).status_code == 200
        await api.post("/auth/login", json=LOGIN)
        (held,) = (await api.get("/auth/tokens")).json()
        assert (await api.delete(f"/auth/tokens/{held['id']}")).status_code == 204
        assert (await api.get("/runs", headers=bearer(SECOND))).status_code == 401

    # Started again with the revoked value: it stays revoked.
    async with service(real_server, database, SECOND) as api:
        assert (await api.get("/runs", headers=bearer(SECOND))).status_code == 401
        await api.post("/auth/login", json=LOGIN)
        assert (await api.get("/auth/tokens")).json() == []


async def test_rotation_replaces_the_provisioned_token_and_leaves_the_users_alone(
    real_server: str,
) -> None:
    """A new GRAFANA_API_TOKEN replaces the token the service provisioned, by its own id: a
    token the admin made and also named "grafana" stays. MONITOR_API_TOKEN is provisioned
    with the write scope, for compose's cpu-monitor."""
    database = f"loadwatch-test-rotation-{ObjectId()}"
    monitor = "lw_" + "m" * 40
    async with service(real_server, database, FIRST, monitor) as api:
        await api.post("/auth/login", json=LOGIN)
        mine = (await api.post("/auth/tokens", json={"name": "grafana"})).json()
        run = (await api.post("/runs", headers=bearer(monitor), json={"name": "cpu"})).json()
        assert run["owner"] == ADMIN[0]
        held = {t["id"]: t for t in (await api.get("/auth/tokens")).json()}
        assert held["provisioned-cpu-monitor"]["scope"] == "write"
        assert held["provisioned-grafana"]["scope"] == "read"
    async with service(real_server, database, SECOND, monitor) as api:
        assert (await api.get("/runs", headers=bearer(FIRST))).status_code == 401
        assert (await api.get("/runs", headers=bearer(mine["token"]))).status_code == 200
        await api.post("/auth/login", json=LOGIN)
        held_ids = {t["id"] for t in (await api.get("/auth/tokens")).json()}
        assert held_ids == {mine["id"], "provisioned-grafana", "provisioned-cpu-monitor"}

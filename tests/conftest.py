"""Shared fixtures: the app in process on the embedded database, and a live service."""

from collections.abc import AsyncIterator, Iterator

import bcrypt
import httpx
import pytest
from fastapi import FastAPI

from rest_service.app import create_app
from rest_service.settings import Settings
from tests.live import Service, real_mongodb, running_service

ADMIN = ("admin", "admin-password")


@pytest.fixture
def settings() -> Settings:
    return Settings(
        mongodb_url="mongomock://",
        bcrypt_rounds=4,
        admin_username=ADMIN[0],
        admin_password=ADMIN[1],  # type: ignore[arg-type]
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


@pytest.fixture
async def admin_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await login(client, *ADMIN)
    assert response.status_code == 200, response.text
    return client


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The passwords bcrypt checks from now on, in order (the checks still happen)."""
    from rest_service import security

    checks: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        checks.append(password)
        return real(password, hashed)

    monkeypatch.setattr(security.bcrypt, "checkpw", counting)
    return checks


@pytest.fixture(scope="module")
def live_service() -> Iterator[Service]:
    with running_service({"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1]}) as service:
        yield service


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real wire-protocol server for the session (see tests.live.real_mongodb)."""
    with real_mongodb(tmp_path_factory.mktemp("mongo-server")) as url:
        yield url

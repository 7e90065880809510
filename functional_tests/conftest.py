"""Fixtures for HTTP-only tests against BASE_URL; nothing here imports the service."""

import os
from collections.abc import Callable, Iterator

import httpx
import pytest
from payloads import unique

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def base_url() -> str:
    return os.environ.get("BASE_URL", "http://localhost:8000").rstrip("/")


def login(base_url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30.0)
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(scope="session")
def admin(base_url: str) -> Iterator[httpx.Client]:
    client = login(
        base_url,
        os.environ.get("ADMIN_USERNAME", "admin"),
        os.environ.get("ADMIN_PASSWORD", "admin"),
    )
    yield client
    client.close()


@pytest.fixture
def make_user(admin: httpx.Client, base_url: str) -> Iterator[Callable[..., httpx.Client]]:
    """Create a fresh user through the admin API and return a logged-in client for it."""
    clients: list[httpx.Client] = []

    def make(is_admin: bool = False) -> httpx.Client:
        name = unique("user")
        response = admin.post(
            "/users", json={"username": name, "password": PASSWORD, "is_admin": is_admin}
        )
        assert response.status_code == 201, response.text
        client = login(base_url, name, PASSWORD)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def user(make_user: Callable[..., httpx.Client]) -> httpx.Client:
    return make_user()


@pytest.fixture
def run(user: httpx.Client) -> dict[str, object]:
    response = user.post("/runs", json={"name": unique("run"), "threshold": 50})
    assert response.status_code == 201, response.text
    return dict(response.json())

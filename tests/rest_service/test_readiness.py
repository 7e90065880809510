import httpx
import pytest
from fastapi import FastAPI


async def test_readyz_is_503_when_the_database_does_not_answer(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get("/readyz")).status_code == 200

    async def down(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("database unreachable")

    # The client hands out a new database object per access: patch their class.
    monkeypatch.setattr(type(app.state.db_client.admin), "command", down)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert (await client.get("/healthz")).status_code == 200


async def test_the_admin_is_created_once_from_the_environment(client: httpx.AsyncClient) -> None:
    ok = await client.post("/auth/login", json={"username": "admin", "password": "admin-password"})
    assert ok.json() == {"username": "admin", "is_admin": True}

"""The results store a test runs on: each store test runs on both, the SQLite file (the
embedded default) and the loadwatch service (``--results-url``), on a live service of the
session with a fresh user and ``write`` token per test, so that histories stay apart."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from loadkit.store.base import ResultsStore
from loadkit.store.opened import open_store

from tests.conftest import ADMIN
from tests.live import Service, running_service


@dataclass
class Where:
    """A results store as a user names it."""

    kind: str
    path: Path  # the SQLite file, or the results folder beside the service
    url: str = ""
    token_file: Path | None = None

    def open(self) -> ResultsStore:
        token = "" if self.token_file is None else str(self.token_file)
        return open_store(self.path, self.url, token, folder=self.path.parent, write=True)

    def args(self) -> list[str]:
        """``loadwatch-compare``'s arguments that name it."""
        if not self.url:
            return ["--db", str(self.path)]
        return ["--results-url", self.url, "--token-file", str(self.token_file)]

    def locust_args(self) -> list[str]:
        """The Locust options that record into it."""
        if not self.url:
            return ["--results-db", str(self.path)]
        return [
            "--results-db",
            str(self.path),
            "--results-url",
            self.url,
            "--results-token-file",
            str(self.token_file),
        ]


@pytest.fixture(scope="session")
def results_service() -> Iterator[Service]:
    env = {"ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1]}
    with running_service(env) as service:
        yield service


def user_token(
    service: Service, scope: str = "write", username: str | None = None
) -> tuple[str, str]:
    """(a new user's name, a token of that user with ``scope``)."""
    name = username or f"loadkit-{uuid.uuid4().hex[:10]}"
    with httpx.Client(base_url=service.url, timeout=30) as admin:
        assert (
            admin.post("/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}).status_code
            == 200
        )
        if username is None:
            made = admin.post(
                "/users", json={"username": name, "password": "correct horse battery"}
            )
            assert made.status_code == 201, made.text
    with httpx.Client(base_url=service.url, timeout=30) as user:
        logged = user.post(
            "/auth/login", json={"username": name, "password": "correct horse battery"}
        )
        assert logged.status_code == 200, logged.text
        token = user.post("/auth/tokens", json={"name": "loadkit", "scope": scope})
        assert token.status_code == 201, token.text
        return name, str(token.json()["token"])


def service_where(service: Service, folder: Path, token: str) -> Where:
    folder.mkdir(parents=True, exist_ok=True)
    token_file = folder / "token"
    token_file.write_text(token)
    return Where("service", folder / "results.sqlite", service.url, token_file)


@pytest.fixture(params=["sqlite", "service"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Where:
    if request.param == "sqlite":
        return Where("sqlite", tmp_path / "results.sqlite")
    service: Service = request.getfixturevalue("results_service")
    return service_where(service, tmp_path, user_token(service)[1])

"""A live loadwatch service for the benchmarks of loadkit's results in it: embedded, or on
FerretDB; a write token of its admin; and loadkit's store on it."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from loadkit.store.opened import open_store
from loadkit.store.service import ServiceStore

from benchmarks.loadgen import ADMIN, SERVICE_ENV
from tests.live import Service, real_mongodb, running_service


@contextmanager
def service_store(real: bool) -> Iterator[tuple[Service, ServiceStore, str, str]]:
    """A live service (embedded, or on FerretDB), a write token of its admin in a file, and
    loadkit's store on it; the MongoDB URL when real; the token."""
    with tempfile.TemporaryDirectory() as tmp, _database(real, Path(tmp)) as url:
        env = {**SERVICE_ENV, **({"MONGODB_URL": url, "MONGODB_DB": "bench"} if url else {})}
        with running_service(env) as service:
            with httpx.Client(base_url=service.url, timeout=60) as admin:
                admin.post("/auth/login", json=ADMIN)
                made = admin.post("/auth/tokens", json={"name": "bench", "scope": "write"})
            token = Path(tmp) / "token"
            token.write_text(made.json()["token"])
            store = open_store("", service.url, str(token), folder=Path(tmp), write=True)
            assert isinstance(store, ServiceStore)
            yield service, store, url, made.json()["token"]


@contextmanager
def _database(real: bool, folder: Path) -> Iterator[str]:
    if not real:
        yield ""
        return
    with real_mongodb(folder / "mongo") as url:
        yield url
